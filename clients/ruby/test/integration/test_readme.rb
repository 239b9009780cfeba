# frozen_string_literal: true

require_relative "integration_helper"

# Every ```ruby block of the README runs as written against the real server, with the server's
# URL and test key substituted for the placeholders.
class TestReadme < Minitest::Test
  include LiveServer

  README = File.expand_path("../../README.md", __dir__)
  BLOCKS = File.read(README).scan(/^```ruby\n(.*?)^```$/m).map(&:first)

  # What each block must print (checked in order of appearance; nil: runs cleanly).
  EXPECTED = [
    [%r{\Ahttp://\S+/images/\S+\.png\?}, /^gen_/], # opening example
    [%r{^http://\S+\.png}, %r{^gen_\w+-0\.png$|out/gen_\w+-0\.png}], # quick start
    [/^\d+$/],                                                                 # Client.open
    [/ succeeded 1024x1024 hd$/, /^Max resolution: 1792x1024$/, /^summer-2024$/, /^true$/],
    [%r{^http://}, /^404 model_not_available: /],                              # errors
    [/dall-e-3/],                                                              # configuration
    [/^(queued|running): /, /^succeeded$/],                                    # jobs and events
    [/^Prompt 1: http/, /^Prompt 3: http/, /^3$/],                             # batches
    [/^\[\d+, (true|false), /, /^page of \d+$/],                               # pagination
    [/-0\.png$/, /-0-thumb\.webp$/, /^kept the existing file$/, %r{/1-0\.png$}], # downloads
    [%r{^http://\S+\.png}, /^remove_background gen_\w+ from gen_\w+: \$0\.01$/, /^gen_\w+ <- gen_\w+$/,
     /^upload upload$/], # image operations
    [%r{^https://x/1\.png$}] # testing your code
  ].freeze

  def test_the_readme_opens_with_the_shape_of_use
    first = BLOCKS.first
    assert_includes first,
                    'client = Freepik::AiOrchestrator::Client.new(base_url: "http://localhost:8000", api_key: "your-api-key")'
    assert_includes first, "client.get_generation_history(limit: 10).each { |generation| puts generation.id }"
    assert_includes first, "rescue Freepik::AiOrchestrator::RateLimitError => e"
  end

  def test_every_block_is_checked
    assert_equal EXPECTED.size, BLOCKS.size
  end

  # The quick start saves into a folder, where each generation gets a new name: a second run in
  # the same directory succeeds and keeps the first image.
  def test_the_quick_start_runs_twice
    script = BLOCKS.fetch(1).gsub("http://localhost:8000", base_url).gsub('"sk-test-…"', api_key.inspect)
    Dir.mktmpdir do |tmp|
      path = File.join(tmp, "quick_start.rb")
      File.write(path, script)
      2.times { run_ruby(path, chdir: tmp) }
      assert_equal 2, Dir[File.join(tmp, "out", "gen_*-0.png")].size
    end
  end

  BLOCKS.each_with_index do |code, index|
    define_method("test_readme_block_#{index}") do
      script = code.gsub("http://localhost:8000", base_url)
                   .gsub('"your-api-key"', api_key.inspect)
                   .gsub('"sk-test-…"', api_key.inspect)
      Dir.mktmpdir do |tmp|
        path = File.join(tmp, "readme_block_#{index}.rb")
        File.write(path, script)
        out = run_ruby(path, chdir: tmp)
        EXPECTED.fetch(index).each { |pattern| assert_match pattern, out, "README block #{index}:\n#{code}" }
      end
    end
  end
end
