# frozen_string_literal: true

# The integration suite runs against the installed gem (GEM_HOME set by script/test), never
# lib/, and against a real server started by scripts/with_test_server.py.
lib = File.expand_path("../../lib", __dir__)
if $LOAD_PATH.include?(lib) && ENV["ORCHESTRATOR_ALLOW_LIB"] != "1"
  abort "integration tests load the installed gem; run them without -Ilib (or set ORCHESTRATOR_ALLOW_LIB=1)"
end
gem "freepik-ai-orchestrator" unless ENV["ORCHESTRATOR_ALLOW_LIB"] == "1"
require "freepik/ai_orchestrator"
require_relative "../test_helper"
require "net/http"
require "open3"
require "rbconfig"
require "securerandom"
require "tmpdir"

module LiveServer
  AI = Freepik::AiOrchestrator
  PNG_SIGNATURE = "\x89PNG\r\n\x1A\n".b

  def setup
    super
    skip "ORCHESTRATOR_BASE_URL is not set: run through scripts/with_test_server.py" unless ENV["ORCHESTRATOR_BASE_URL"]
    @clients = []
  end

  def teardown
    @clients&.each(&:close)
    super
  end

  def base_url
    ENV.fetch("ORCHESTRATOR_BASE_URL")
  end

  def api_key
    ENV.fetch("ORCHESTRATOR_API_KEY")
  end

  def live_client(**options)
    client = AI::Client.new(base_url:, api_key:, **options)
    @clients << client
    client
  end

  def fetch(url)
    Net::HTTP.get_response(URI(url))
  end

  # Runs a Ruby script in a child process (the installed gem, no -Ilib) and returns its output.
  def run_ruby(path, *args, env: {}, chdir: Dir.pwd)
    out, err, status = Open3.capture3({ "ORCHESTRATOR_BASE_URL" => base_url, "ORCHESTRATOR_API_KEY" => api_key }.merge(env),
                                      RbConfig.ruby, path, *args, chdir:)
    assert status.success?, "#{File.basename(path)} failed (#{status.exitstatus}):\n#{out}\n#{err}"
    out
  end
end
