# frozen_string_literal: true

require "tmpdir"
require_relative "../test_helper"

# The behaviour table of clients/spec/conformance.json that every SDK shares: defaults, the
# missing-key error, the error classes under their Ruby names, and the download rules.
class TestBehaviourTable < Minitest::Test
  include TestSupport::ClientFactory

  AI = Freepik::AiOrchestrator
  SPEC = TestSupport.spec

  def self.slug(text)
    text.to_s.gsub(/[^A-Za-z0-9]+/, "_").downcase
  end

  def test_default_timeouts_and_base_url_are_the_tables
    defaults = SPEC.fetch("defaults")
    assert_equal defaults.fetch("timeout"), AI::Client::DEFAULT_TIMEOUT
    assert_equal defaults.fetch("connect_timeout"), AI::Client::CONNECT_TIMEOUT
    assert_equal defaults.fetch("wait_timeout"), AI::Client::DEFAULT_WAIT_TIMEOUT
    assert_equal defaults.fetch("base_url"), AI::Client::DEFAULT_BASE_URL
    assert_equal defaults.fetch("timeout"), client.timeout
  end

  def test_the_base_error_is_error_and_orchestration_error_is_its_alias
    errors = SPEC.fetch("errors")
    assert_equal errors.fetch("base").fetch("ruby"), AI::Error.name
    errors.fetch("aliases").fetch("ruby").each do |alias_name, target|
      assert_same Object.const_get(target), Object.const_get(alias_name)
    end
  end

  def test_every_error_class_exists_under_its_parent
    by_name = SPEC.fetch("errors").fetch("classes").to_h { |c| [c["name"], c] }
    by_name.each_value do |entry|
      klass = Object.const_get(entry.fetch("ruby"))
      assert_operator klass, :<=, StandardError
      parent = entry["parent"]
      if parent.nil?
        assert_equal StandardError, klass.superclass
      else
        assert_equal Object.const_get(by_name.fetch(parent).fetch("ruby")), klass.superclass, entry["name"]
      end
    end
  end

  def test_a_missing_key_raises_the_base_error_before_any_request
    failure = SPEC.fetch("errors").fetch("failures").find { |f| f["name"] == "missing key" }
    previous = ENV.delete("ORCHESTRATOR_API_KEY")
    ENV["ORCHESTRATOR_API_KEY"] = ""
    begin
      error = assert_raises(AI::Error) { AI::Client.new(base_url: "http://api.test", transport: @transport) }
      assert_equal AI::Error, error.class if failure.fetch("exact_class")
      assert_equal failure.fetch("code"), error.code
      failure.fetch("message_contains").each { |part| assert_includes error.message.downcase, part.downcase }
      assert_empty @transport.requests
    ensure
      previous.nil? ? ENV.delete("ORCHESTRATOR_API_KEY") : ENV.store("ORCHESTRATOR_API_KEY", previous)
    end
  end

  # ------------------------------------------------------------------ downloads

  SPEC.fetch("downloads").fetch("cases").each do |c|
    define_method("test_download_#{slug(c["name"])}") { run_download_case(c) }
  end

  private

  def run_download_case(spec_case)
    served = spec_case["served_content_type"] || "image/png"
    @transport.otherwise { |_request| AI::Response.new(status: 200, headers: { "content-type" => served }, body: "new") }
    Dir.mktmpdir do |folder|
      Array(spec_case["existing"]).each { |name| File.write(File.join(folder, name), "old") }
      target, options = download_source(spec_case)
      options = options.merge(thumbnail: spec_case["thumbnail"] == true, overwrite: spec_case["overwrite"] == true)
      if spec_case["error"]
        error = assert_raises(Object.const_get(class_name(spec_case["error"]))) do
          client.download(target, folder, **options)
        end
        assert_equal spec_case["error_names"], File.basename(error.filename)
        assert_equal spec_case["fetches"], @transport.requests.size if spec_case.key?("fetches")
        Array(spec_case["existing"]).each { |name| assert_equal "old", File.read(File.join(folder, name)) }
      else
        paths = client.download(target, folder, **options)
        assert_equal spec_case["expected"], paths.map { |path| File.basename(path) }
        paths.each { |path| assert_equal "new", File.read(path) }
      end
      assert_empty Dir.glob(File.join(folder, "*.part"))
    end
  end

  def download_source(spec_case)
    return [spec_case.fetch("url"), {}] if spec_case["source"] == "url"

    generation = AI::GenerationResponse.from_hash(
      TestSupport.generation(spec_case.fetch("generation_id"), "images" => spec_case.fetch("images"))
    )
    return [generation, {}] if spec_case["source"] == "generation"

    [generation, { image: Integer(spec_case["source"].delete_prefix("image "), 10) }]
  end

  def class_name(canonical)
    SPEC.fetch("errors").fetch("classes").find { |c| c["name"] == canonical }.fetch("ruby")
  end
end
