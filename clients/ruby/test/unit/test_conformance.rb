# frozen_string_literal: true

require_relative "../test_helper"

# Runs every case of clients/spec/conformance.json: the pure functions, and the same cases
# through the client on a fake transport and a fake clock.
class TestConformance < Minitest::Test
  include TestSupport::ClientFactory

  AI = Freepik::AiOrchestrator
  SPEC = TestSupport.spec
  TOLERANCE = 1e-9

  def self.slug(text)
    text.to_s.gsub(/[^A-Za-z0-9]+/, "_").downcase
  end

  def test_defaults_match_the_implementation
    defaults = SPEC.fetch("defaults")
    assert_equal defaults["max_retries"], AI::RetryPolicy::DEFAULT_MAX_RETRIES
    assert_equal defaults["retry_backoff"], AI::RetryPolicy::DEFAULT_RETRY_BACKOFF
    assert_equal defaults["max_backoff"], AI::RetryPolicy::MAX_BACKOFF
    assert_equal defaults["max_retry_after"], AI::RetryPolicy::MAX_RETRY_AFTER
    assert_equal defaults["jitter"], AI::RetryPolicy::JITTER
  end

  # ------------------------------------------------------------------ Retry-After parsing

  SPEC.fetch("retry_after").fetch("cases").each do |c|
    define_method("test_retry_after_#{slug(c["name"])}") do
      got = AI::RetryPolicy.parse_retry_after(c["headers"], TestSupport.timestamp(SPEC["retry_after"]["now"]))
      if c["expected"].nil?
        assert_nil got
      else
        assert_in_delta c["expected"], got, TOLERANCE
      end
    end
  end

  # ------------------------------------------------------------------ backoff

  SPEC.fetch("backoff").fetch("cases").each_with_index do |c, i|
    define_method("test_backoff_#{i}_base_#{slug(c["retry_backoff"])}_n#{c["retries_so_far"]}") do
      got = AI::RetryPolicy.backoff_delay(c["retries_so_far"], c["retry_backoff"], c["random"])
      assert_in_delta c["expected"], got, TOLERANCE
    end
  end

  # ------------------------------------------------------------------ retry decisions

  DECISIONS = SPEC.fetch("retry_decisions")

  DECISIONS.fetch("cases").each do |c|
    define_method("test_retry_decision_#{slug(c["name"])}") do
      decision = AI::RetryPolicy.decide(
        retries_so_far: c["retries_so_far"], max_retries: c["max_retries"], retry_backoff: c["retry_backoff"],
        status: c["status"], headers: c["headers"], now: TestSupport.timestamp(DECISIONS["now"]),
        random_value: c["random"], body: c["body"]
      )
      expected = c["expected"]
      assert_equal expected["retry"], decision.retry?
      assert_in_delta expected["delay"], decision.delay, TOLERANCE if expected["retry"]
      if expected["retry_after"].nil?
        assert_nil decision.retry_after
      else
        assert_in_delta expected["retry_after"], decision.retry_after, TOLERANCE
      end
    end

    # The same case through the client: the failure is answered on the first
    # retries_so_far + 1 attempts of a POST, then a success.
    define_method("test_retry_decision_through_the_client_#{slug(c["name"])}") do
      @clock.now = TestSupport.timestamp(DECISIONS["now"])
      @clock.random = c["random"]
      attempts = c["retries_so_far"] + 1
      attempts.times do
        if c["status"].nil?
          @transport.raise_error(c["error"] == "timeout" ? Net::ReadTimeout.new : Errno::ECONNREFUSED.new)
        else
          @transport.add(c["status"], c["body"], c["headers"])
        end
      end
      @transport.json(TestSupport.generation)
      api = client(max_retries: c["max_retries"], retry_backoff: c["retry_backoff"], timeout: nil)

      if c["expected"]["retry"]
        result = api.generate(prompt: "p", model: "dall-e-3")
        assert_equal "gen_1", result.id
        assert_equal attempts + 1, @transport.requests.size
        assert_in_delta c["expected"]["delay"], @clock.sleeps[c["retries_so_far"]], TOLERANCE
      else
        error = assert_raises(AI::OrchestrationError) { api.generate(prompt: "p", model: "dall-e-3") }
        assert_operator @transport.requests.size, :<=, attempts
        if c["status"].nil?
          assert_kind_of(c["error"] == "timeout" ? AI::APITimeoutError : AI::APIConnectionError, error)
        else
          assert_equal c["status"], error.status
          if error.is_a?(AI::RateLimitError)
            expected = c["expected"]["retry_after"]
            expected.nil? ? assert_nil(error.retry_after) : assert_in_delta(expected, error.retry_after, TOLERANCE)
          end
        end
      end
      @transport.requests.each_with_index do |request, index|
        assert_equal (index + 1).to_s, request.headers["X-Request-Attempt"]
      end
      keys = @transport.requests.map { |request| request.headers["Idempotency-Key"] }.uniq
      assert_equal 1, keys.size, "one Idempotency-Key for every attempt of a call"
      refute_nil keys.first
    end
  end

  # ------------------------------------------------------------------ error mapping

  MAPPING = SPEC.fetch("error_mapping")

  def check_error(error, c)
    assert_equal c["expected"], error.class.name.split("::").last
    assert_kind_of AI::OrchestrationError, error
    c["fields"].each do |name, value|
      got = error.public_send(name)
      if value.nil?
        assert_nil got, name
      elsif value.is_a?(Float)
        assert_in_delta value, got, TOLERANCE, name
      else
        assert_equal value, got, name
      end
    end
  end

  MAPPING.fetch("cases").each do |c|
    define_method("test_error_mapping_#{slug(c["name"])}") do
      headers = c["headers"]
      error = AI::Errors.build(
        c["status"], c["body"], headers,
        retry_after: AI::RetryPolicy.parse_retry_after(headers, TestSupport.timestamp(MAPPING["now"])),
        text: c["body"].is_a?(String) ? c["body"] : nil
      )
      check_error(error, c)
    end

    next if c["status"].nil?

    define_method("test_error_mapping_through_the_client_#{slug(c["name"])}") do
      @clock.now = TestSupport.timestamp(MAPPING["now"])
      @transport.add(c["status"], c["body"], c["headers"])
      error = assert_raises(AI::OrchestrationError) { client(max_retries: 0).get_generation("gen_1") }
      check_error(error, c)
      assert_equal c["status"], error.status
      assert_equal 1, @transport.requests.size
    end
  end

  # ------------------------------------------------------------------ pagination

  SPEC.fetch("pagination").fetch("cases").each do |c|
    define_method("test_pagination_#{slug(c["name"])}") do
      c["pages"].each { |page| @transport.json(page["response"]) }
      query = c["query"]
      metadata = query.select { |k, _| k.start_with?("metadata.") }.transform_keys { |k| k.delete_prefix("metadata.") }
      first = client.get_generation_history(
        limit: query["limit"]&.to_i, filter_by_model: query["model"], status: query["status"],
        metadata: metadata.empty? ? nil : metadata
      )
      assert_equal c["expected_first_page_len"], first.size
      items = first.to_a
      assert_equal c["expected_ids"], items.map(&:id)
      # Fields this version does not know are kept, not rejected.
      sent = c["pages"].flat_map { |page| page["response"]["data"] }
      items.zip(sent).each { |item, raw| raw.each { |key, value| assert_equal value, item.to_h[key.to_sym], key } }
      assert_equal c["pages"].size, @transport.requests.size
      @transport.requests.zip(c["pages"]).each do |request, page|
        assert_equal "/api/v1/generations", request.url.path
        assert_equal page["expect_query"], URI.decode_www_form(request.url.query.to_s).to_h
      end
    end
  end
end
