# frozen_string_literal: true

require "json"
require "minitest/autorun"
require "net/http"
require "time"

# Unit tests load the library from lib/; the integration suite loads the installed gem instead
# (test/integration/integration_helper.rb).
require "freepik/ai_orchestrator" unless defined?(Freepik::AiOrchestrator::Client)

module TestSupport
  ROOT = File.expand_path("..", __dir__)
  SPEC_PATH = File.expand_path("../spec/conformance.json", ROOT)

  # The shared, language-neutral cases, read at test time (never copied).
  def self.spec
    @spec ||= JSON.parse(File.read(SPEC_PATH))
  end

  def self.timestamp(iso)
    Time.iso8601(iso).to_f
  end

  # Time, sleep and randomness under the test's control: sleeping advances both clocks at once.
  class FakeClock
    attr_accessor :now, :monotonic, :random
    attr_reader :sleeps

    def initialize(now: 1_767_225_600.0, random: 0.0)
      @now = now
      @monotonic = 1000.0
      @random = random
      @sleeps = []
    end

    def sleep(seconds)
      @sleeps << seconds
      @now += seconds
      @monotonic += seconds
    end

    def rand
      @random
    end

    def advance(seconds)
      @now += seconds
      @monotonic += seconds
    end
  end

  # Answers queued responses in order and records every request. A queued Exception (or
  # Exception class) is raised instead, as Net::HTTP would.
  class FakeTransport
    attr_reader :requests, :closed

    def initialize
      @queue = []
      @requests = []
      @closed = false
      @fallback = nil
    end

    def add(status, body = nil, headers = {})
      text = body.is_a?(String) || body.nil? ? body.to_s : JSON.generate(body)
      headers = headers.to_h { |k, v| [k.to_s.downcase, v.to_s] }
      headers["content-type"] ||= "application/json" unless body.nil? || body.is_a?(String)
      @queue << Freepik::AiOrchestrator::Response.new(status:, headers:, body: text)
      self
    end

    def json(body, status: 200, headers: {})
      add(status, body, headers)
    end

    def raise_error(error)
      @queue << error
      self
    end

    # What to answer once the queue is empty (a block taking the request).
    def otherwise(&block)
      @fallback = block
      self
    end

    def call(request)
      @requests << request
      answer = @queue.shift || @fallback&.call(request)
      raise "FakeTransport: no response queued for #{request.method} #{request.url}" if answer.nil?
      raise answer if answer.is_a?(Exception) || (answer.is_a?(Class) && answer <= Exception)

      if block_given? && answer.success?
        answer.body.each_char.each_slice(7) { |chars| yield chars.join }
        return Freepik::AiOrchestrator::Response.new(status: answer.status, headers: answer.headers, body: nil)
      end
      answer
    end

    def close
      @closed = true
    end
  end

  def self.generation(id = "gen_1", **fields)
    {
      "id" => id, "object" => "generation", "status" => "succeeded", "prompt" => "p", "model" => "dall-e-3",
      "image_url" => "http://api.test/api/v1/images/#{id}/1-0.png", "thumbnail_url" => nil,
      "created_at" => "2026-01-01T00:00:00.250000Z", "processing_time" => 1.5, "cost" => 0.04
    }.merge(fields.transform_keys(&:to_s))
  end

  # A client on a fake transport and a fake clock.
  module ClientFactory
    def setup
      super
      @transport = FakeTransport.new
      @clock = FakeClock.new
    end

    def client(**options)
      Freepik::AiOrchestrator::Client.new(
        base_url: "http://api.test", api_key: "sk-test-unit", transport: @transport, clock: @clock, **options
      )
    end
  end
end
