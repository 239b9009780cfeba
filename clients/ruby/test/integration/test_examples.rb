# frozen_string_literal: true

require_relative "integration_helper"

# The runnable Ruby versions of the client reference's snippets in examples/.
class TestExamples < Minitest::Test
  include LiveServer

  EXAMPLES = File.expand_path("../../examples", __dir__)

  EXPECTED = {
    "basic_usage.rb" => [/^Generated image URL: http/],
    "client_configuration.rb" => [/^\d+ models reachable at http/, /^3 more clients configured$/],
    "generate.rb" => [/succeeded, 1024x1024 hd, cost \$0\.08 USD/, /^Created at: \d{4}-/, /^Generated image URL: http/],
    "batch.rb" => [/^Prompt 1: http/, /^Prompt 3: http/, /^3 succeeded, 0 failed/],
    "models_and_usage.rb" => [/^dall-e-3: /, /^Max resolution: 1792x1024$/, /^Total generations: 0$/, /^History: \d+ on/],
    "error_handling.rb" => [/^Generated image URL: http/],
    "retry_and_cleanup.rb" => [/^Generated image URL: http/, /^With retry: http/],
    "jobs_and_download.rb" => [/^submitted gen_/, /succeeded: progress 1\.0/, /^saved \S+-0\.png \(\d+ bytes\)$/]
  }.freeze

  def test_every_example_is_covered
    assert_equal EXPECTED.keys.sort, Dir.children(EXAMPLES).grep(/\.rb\z/).sort
  end

  EXPECTED.each do |name, patterns|
    define_method("test_example_#{name.delete_suffix(".rb")}") do
      Dir.mktmpdir do |tmp|
        out = run_ruby(File.join(EXAMPLES, name), *(name == "jobs_and_download.rb" ? [tmp] : []))
        patterns.each { |pattern| assert_match pattern, out, "#{name}:\n#{out}" }
      end
    end
  end

  def test_error_handling_with_a_bad_key
    out = run_ruby(File.join(EXAMPLES, "error_handling.rb"), env: { "ORCHESTRATOR_API_KEY" => "sk-test-nope" })
    assert_equal "Invalid API key\n", out
  end
end
