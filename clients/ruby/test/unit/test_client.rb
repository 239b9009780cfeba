# frozen_string_literal: true

require "tmpdir"
require_relative "../test_helper"

# Client behaviour beyond the shared cases, on a fake transport and a fake clock.
class TestClient < Minitest::Test
  include TestSupport::ClientFactory

  AI = Freepik::AiOrchestrator

  def with_env(values)
    saved = values.keys.to_h { |k| [k, ENV.fetch(k, nil)] }
    values.each { |k, v| ENV[k] = v }
    yield
  ensure
    saved.each { |k, v| ENV[k] = v }
  end

  # ------------------------------------------------------------------ configuration

  def test_environment_defaults
    with_env("ORCHESTRATOR_API_KEY" => "sk-test-env", "ORCHESTRATOR_BASE_URL" => "http://env.test:9000/") do
      @transport.json({ "object" => "list", "data" => [] })
      api = AI::Client.new(transport: @transport, clock: @clock)
      assert_equal "http://env.test:9000", api.base_url
      api.list_models
      assert_equal "Bearer sk-test-env", @transport.requests.last.headers["Authorization"]
      assert_equal "http://env.test:9000/api/v1/models", @transport.requests.last.url.to_s
    end
  end

  def test_no_credentials_anywhere_is_a_clear_error
    with_env("ORCHESTRATOR_API_KEY" => nil) do
      error = assert_raises(AI::Error) { AI::Client.new(base_url: "http://x.test", transport: @transport) }
      assert_match(/ORCHESTRATOR_API_KEY/, error.message)
      assert_equal "missing_credentials", error.code
    end
  end

  def test_bearer_token_and_not_both
    @transport.json({ "object" => "list", "data" => [] })
    AI::Client.new(base_url: "http://api.test", bearer_token: "jwt.a.b", transport: @transport).list_models
    assert_equal "Bearer jwt.a.b", @transport.requests.last.headers["Authorization"]
    assert_raises(ArgumentError) { AI::Client.new(api_key: "sk-test-a", bearer_token: "b", transport: @transport) }
  end

  def test_invalid_options
    assert_raises(ArgumentError) { client(max_retries: -1) }
    assert_raises(ArgumentError) { client(timeout: 0) }
    assert_raises(ArgumentError) { client(base_url: "localhost:8000") }
    assert_equal "http://api.test", client(base_url: "http://api.test/api/v1/").base_url
  end

  def test_alias_and_block_form_closes
    assert_same AI::Client, AI::OrchestrationClient
    AI::Client.open(base_url: "http://api.test", api_key: "sk-test-x", transport: @transport) { |c| assert c }
    assert @transport.closed
  end

  # ------------------------------------------------------------------ responses

  def test_generate_returns_an_immutable_response_with_times
    @transport.json(TestSupport.generation("gen_9", "metadata" => { "campaign" => "x" }, "future" => [1]),
                    headers: { "X-Request-ID" => "req_9" })
    response = client.generate(prompt: "A sunset", model: "dall-e-3", style: "photorealistic",
                               metadata: { campaign: "x" })
    assert_equal "gen_9", response.id
    assert_equal Time.utc(2026, 1, 1, 0, 0, 0.25r), response.created_at
    assert_kind_of Time, response.created_at
    assert_in_delta 1.5, response.processing_time
    assert_in_delta 0.04, response.cost
    assert_equal "req_9", response.request_id
    assert_equal [1], response.extra["future"]
    assert response.frozen?
    assert response.metadata.frozen?
    assert_raises(FrozenError) { response.prompt = "other" }
    assert_raises(FrozenError) { response.metadata["campaign"] = "y" }
    body = JSON.parse(@transport.requests.last.body)
    assert_equal({ "prompt" => "A sunset", "model" => "dall-e-3", "style" => "photorealistic",
                   "metadata" => { "campaign" => "x" } }, body)
    request = @transport.requests.last
    assert_equal "POST", request.method
    assert_equal "application/json", request.headers["Content-Type"]
    assert_equal "wait=599", request.headers["Prefer"] # the 600 s default call budget, less 1 s
    assert_match(/\A[0-9a-f-]{36}\z/, request.headers["Idempotency-Key"])
  end

  def test_a_malformed_body_is_an_orchestration_error
    @transport.json({ "id" => "gen_1" })
    error = assert_raises(AI::OrchestrationError) { client.get_generation("gen_1") }
    assert_match(/missing status, prompt, model/, error.message)
  end

  def test_each_call_gets_its_own_idempotency_key_unless_given
    2.times { @transport.json(TestSupport.generation) }
    api = client
    api.generate(prompt: "p", model: "dall-e-3")
    api.generate(prompt: "p", model: "dall-e-3", idempotency_key: "mine")
    first, second = @transport.requests.map { |r| r.headers["Idempotency-Key"] }
    refute_equal first, second
    assert_equal "mine", second
  end

  def test_generate_waits_for_a_job_handed_back_unfinished
    @transport.json(TestSupport.generation("gen_5", "status" => "running", "image_url" => nil), status: 202)
    @transport.json(TestSupport.generation("gen_5", "status" => "running", "image_url" => nil))
    @transport.json(TestSupport.generation("gen_5"))
    response = client.generate(prompt: "p", model: "dall-e-3")
    assert_equal "succeeded", response.status
    assert_equal %w[POST GET GET], @transport.requests.map(&:method)
    assert_equal "/api/v1/generations/gen_5", @transport.requests.last.url.path
    assert_equal [0.5], @clock.sleeps
  end

  def test_a_failed_job_raises_the_mapped_error_with_its_generation_id
    @transport.json(TestSupport.generation("gen_6", "status" => "running"), status: 202)
    @transport.json(TestSupport.generation("gen_6", "status" => "failed",
                                                    "error" => { "code" => "content_policy_violation", "message" => "no" }))
    error = assert_raises(AI::ContentPolicyError) { client.generate(prompt: "p", model: "dall-e-3") }
    assert_equal "gen_6", error.generation_id
    assert_equal 422, error.status
  end

  def test_submit_asks_for_async_and_does_not_wait
    @transport.json(TestSupport.generation("gen_7", "status" => "queued"), status: 202)
    job = client.submit(prompt: "p", model: "dall-e-3")
    assert_equal "queued", job.status
    assert_equal "respond-async", @transport.requests.last.headers["Prefer"]
    assert_equal 1, @transport.requests.size
  end

  def test_wait_for_gives_up_at_its_deadline
    @transport.otherwise do
      AI::Response.new(status: 200, headers: {}, body: JSON.generate(TestSupport.generation("gen_8", "status" => "running")))
    end
    error = assert_raises(AI::APITimeoutError) { client.wait_for("gen_8", timeout: 3, poll_interval: 0.5) }
    assert_equal "gen_8", error.generation_id
    assert_in_delta 3.0, @clock.sleeps.sum, 1e-9
  end

  def test_cancel_posts_with_an_idempotency_key
    @transport.json(TestSupport.generation("gen_1", "status" => "canceled"))
    assert_equal "canceled", client.cancel("gen_1").status
    request = @transport.requests.last
    assert_equal ["POST", "/api/v1/generations/gen_1/cancel"], [request.method, request.url.path]
    refute_nil request.headers["Idempotency-Key"]
    assert_nil request.body
  end

  def test_ids_are_escaped_in_paths
    @transport.json({ "name" => "a/b c" })
    client.get_model_info("a/b c")
    assert_equal "/api/v1/models/a%2Fb%20c", @transport.requests.last.url.path
  end

  # ------------------------------------------------------------------ retries and timeouts

  def test_max_retries_zero_turns_retries_off
    @transport.add(503, { "error" => { "type" => "internal_error", "message" => "down" } })
    assert_raises(AI::InternalServerError) { client(max_retries: 0).list_models }
    assert_equal 1, @transport.requests.size
    assert_empty @clock.sleeps
  end

  def test_a_long_retry_after_is_handed_back_to_the_caller
    @transport.add(429, { "error" => { "type" => "rate_limit_error", "message" => "slow down" } },
                   { "Retry-After" => "60", "RateLimit-Limit" => "1", "RateLimit-Remaining" => "0" })
    error = assert_raises(AI::RateLimitError) { client.list_models }
    assert_in_delta 60.0, error.retry_after
    assert_equal [1, 0], [error.limit, error.remaining]
    assert_equal 1, @transport.requests.size
  end

  def test_timeout_bounds_the_whole_call_retries_included
    3.times { @transport.add(503, nil, { "Retry-After" => "4" }) }
    @transport.json({ "object" => "list", "data" => [] })
    assert_raises(AI::InternalServerError) { client(timeout: 5, max_retries: 5).list_models }
    assert_equal 2, @transport.requests.size # a second wait of 4 s would pass the 5 s budget
    assert_equal [4.0], @clock.sleeps
    assert_equal "5", @transport.requests.first.headers["X-Client-Timeout"]
    assert_equal "1", @transport.requests.last.headers["X-Client-Timeout"]
  end

  def test_a_timeout_message_never_carries_the_query
    @transport.raise_error(Net::ReadTimeout.new)
    error = assert_raises(AI::APITimeoutError) do
      client(max_retries: 0).download("http://api.test/api/v1/images/x.png?sig=secret", Dir.tmpdir)
    end
    refute_includes error.message, "secret"
    assert_includes error.message, "/api/v1/images/x.png"
  end

  def test_connection_errors_are_wrapped_with_their_cause
    3.times { @transport.raise_error(Errno::ECONNRESET.new) }
    error = assert_raises(AI::APIConnectionError) { client.list_models }
    assert_kind_of Errno::ECONNRESET, error.cause
    assert_equal 3, @transport.requests.size
    assert_equal [0.5, 1.0], @clock.sleeps
  end

  # ------------------------------------------------------------------ batches and history

  def test_batch_keeps_prompt_order_and_waits_for_pending_items
    @transport.json({
                      "object" => "batch", "id" => "bat_1", "succeeded" => 1, "failed" => 1, "total_cost" => 0.04,
                      "data" => [
                        { "index" => 0, "prompt" => "one", "status" => "succeeded",
                          "generation" => TestSupport.generation("gen_a") },
                        { "index" => 1, "prompt" => "two", "status" => "pending",
                          "generation" => TestSupport.generation("gen_b", "status" => "running", "image_url" => nil) },
                        { "index" => 2, "prompt" => "three", "status" => "failed",
                          "error" => { "type" => "provider_error", "code" => "provider_error", "message" => "upstream" } }
                      ]
                    })
    @transport.json(TestSupport.generation("gen_b", "cost" => 0.08))
    result = client.generate_batch(prompts: %w[one two three], model: "dall-e-3", batch_size: 2)
    assert_equal %w[one two three], result.map(&:prompt)
    assert_equal [true, true, false], result.map(&:ok?)
    assert_equal %w[gen_a gen_b], result.generations.map(&:id)
    assert_equal [2, 1], [result.succeeded, result.failed]
    assert_in_delta 0.12, result.total_cost
    assert_kind_of AI::ProviderError, result[2].exception
    assert_raises(AI::ProviderError) { result[2].raise_for_error }
    assert_equal({ "prompts" => %w[one two three], "model" => "dall-e-3", "batch_size" => 2 },
                 JSON.parse(@transport.requests.first.body))
    assert result.frozen?
  end

  def test_batch_raise_on_error
    @transport.json({ "object" => "batch", "id" => "bat_2", "data" => [
                      { "index" => 0, "prompt" => "x", "status" => "failed",
                        "error" => { "type" => "invalid_request_error", "code" => "invalid_field", "message" => "bad" } }
                    ] })
    assert_raises(AI::InvalidRequestError) { client.generate_batch(prompts: ["x"], model: "m", raise_on_error: true) }
    assert_raises(TypeError) { client.generate_batch(prompts: "x", model: "m") }
  end

  def test_history_is_lazy_and_sends_filters
    @transport.json({ "data" => [TestSupport.generation("gen_1")], "has_more" => true, "next_cursor" => "c1" })
    @transport.json({ "data" => [TestSupport.generation("gen_2")], "has_more" => false, "next_cursor" => nil })
    page = client.get_generation_history(limit: 1, filter_by_model: "dall-e-3", since: Time.utc(2026, 1, 1),
                                         until: "2026-02-01T00:00:00Z", query: "sunset",
                                         metadata: { campaign: "summer", ok: true })
    assert_equal 1, @transport.requests.size
    assert_equal({ "limit" => "1", "model" => "dall-e-3", "since" => "2026-01-01T00:00:00Z",
                   "until" => "2026-02-01T00:00:00Z", "q" => "sunset", "metadata.campaign" => "summer",
                   "metadata.ok" => "true" }, URI.decode_www_form(@transport.requests.first.url.query).to_h)
    assert_equal "gen_1", page.first.id
    assert_equal 1, @transport.requests.size, "first(1) does not fetch the next page"
    assert_equal %w[gen_1 gen_2], page.map(&:id)
    assert_equal 2, @transport.requests.size
  end

  def test_usage_dates
    @transport.json({ "start_date" => "2026-01-01", "end_date" => "2026-01-31", "total_generations" => 3,
                      "total_cost" => 0.12, "by_model" => [{ "key" => "dall-e-3", "generations" => 3 }] })
    stats = client.get_usage_stats(start_date: Date.new(2026, 1, 1), end_date: "2026-01-31", group_by: "model")
    assert_equal Date.new(2026, 1, 1), stats.start_date
    assert_equal 3, stats.by_model.first.generations
    assert_equal({ "start_date" => "2026-01-01", "end_date" => "2026-01-31", "group_by" => "model" },
                 URI.decode_www_form(@transport.requests.last.url.query).to_h)
  end

  # ------------------------------------------------------------------ events

  def sse(status, progress, id: nil)
    data = JSON.generate(TestSupport.generation("gen_e", "status" => status, "progress" => progress))
    "#{id ? "id: #{id}\n" : ""}event: #{status}\ndata: #{data}\n\n"
  end

  def test_stream_events_parses_the_stream_and_ends_at_the_terminal_event
    @transport.add(200, "retry: 2000\n\n: ping\n\n#{sse("running", 0.5, id: "e1")}#{sse("succeeded", 1.0, id: "e2")}",
                   { "Content-Type" => "text/event-stream" })
    events = client(timeout: 30).stream_events("gen_e").to_a
    assert_equal [%w[running e1], %w[succeeded e2]], events.map { |event| [event.event, event.id] }
    assert_in_delta 0.5, events.first.data.progress
    assert events.last.terminal?
    assert_equal "text/event-stream", @transport.requests.last.headers["Accept"]
    assert_in_delta 300.0, @transport.requests.last.read_timeout, 1e-9, "a silence limit, not a call deadline"
  end

  def test_an_error_event_raises_the_mapped_error
    error = JSON.generate({ "error" => { "type" => "not_found", "code" => "not_found", "message" => "gone" } })
    @transport.add(200, "event: error\ndata: #{error}\n\n")
    assert_raises(AI::NotFoundError) { client.stream_events("gen_e") { nil } }
  end

  def test_stream_events_reconnects_with_the_last_event_id
    @transport.add(200, sse("running", 0.2, id: "e1"))
    @transport.add(200, sse("succeeded", 1.0, id: "e2"))
    events = client.stream_events("gen_e").map(&:event)
    assert_equal %w[running succeeded], events
    assert_nil @transport.requests.first.headers["Last-Event-ID"]
    assert_equal "e1", @transport.requests.last.headers["Last-Event-ID"]
    assert_equal [0.5], @clock.sleeps
  end

  def test_stream_events_gives_up_after_max_retries_reconnects
    3.times { @transport.add(200, sse("running", 0.2)) }
    error = assert_raises(AI::APIConnectionError) { client(max_retries: 2).stream_events("gen_e") { nil } }
    assert_equal "gen_e", error.generation_id
    assert_equal 3, @transport.requests.size
  end

  # ------------------------------------------------------------------ downloads

  def png_bytes
    "\x89PNG\r\n\x1A\n#{"x" * 40}".b
  end

  def test_download_writes_one_file_per_image_and_never_overwrites
    generation = AI::GenerationResponse.from_hash(TestSupport.generation("gen_d", "images" => [
                                                                           { "url" => "http://api.test/api/v1/images/1-0.png",
                                                                             "content_type" => "image/png" },
                                                                           { "url" => "https://cdn.test/signed/1-1?sig=x", "content_type" => "image/jpeg" }
                                                                         ]))
    2.times { @transport.add(200, png_bytes, { "Content-Type" => "image/png" }) }
    Dir.mktmpdir do |tmp|
      folder = File.join(tmp, "new", "folder")
      paths = client.download(generation, folder)
      assert_equal [File.join(folder, "gen_d-0.png"), File.join(folder, "gen_d-1.jpg")], paths
      assert_equal png_bytes, File.binread(paths.first)
      assert_equal "Bearer sk-test-unit", @transport.requests[0].headers["Authorization"]
      assert_nil @transport.requests[1].headers["Authorization"], "the key never goes to another host"
      assert_raises(AI::DestinationExistsError) { client.download(generation, folder) }
      assert_equal 2, @transport.requests.size, "nothing downloaded when a file exists"
      2.times { @transport.add(200, "new".b, { "Content-Type" => "image/png" }) }
      client.download(generation, folder, overwrite: true)
      assert_equal "new", File.binread(paths.first)
      assert_empty Dir.glob(File.join(folder, "*.part"))
    end
  end

  def test_a_failed_download_leaves_no_file
    @transport.add(404, { "error" => { "type" => "not_found", "message" => "expired" } })
    Dir.mktmpdir do |tmp|
      assert_raises(AI::NotFoundError) { client.download("http://api.test/api/v1/images/x.png", tmp) }
      assert_empty Dir.children(tmp)
    end
  end
end
