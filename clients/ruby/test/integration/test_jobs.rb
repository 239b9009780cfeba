# frozen_string_literal: true

require_relative "integration_helper"

# Jobs against a server slow enough that POST /generate answers 202 (run by script/test with
# offline_latency_seconds=1.5 and sync_wait_seconds=0.3).
class TestJobs < Minitest::Test
  include LiveServer

  # The real Net::HTTP transport, recording the status of every answer.
  class RecordingTransport
    attr_reader :statuses

    def initialize(base_url)
      @inner = Freepik::AiOrchestrator::NetHttpTransport.new(base_url)
      @statuses = []
    end

    def call(request, &)
      @inner.call(request, &).tap { |response| @statuses << [request.method, response.status] }
    end

    def close
      @inner.close
    end
  end

  def setup
    super
    skip "needs a slow server (ORCHESTRATOR_SLOW_SERVER=1, see script/test)" unless ENV["ORCHESTRATOR_SLOW_SERVER"] == "1"
  end

  def test_an_image_operation_is_a_job_like_a_generation
    transport = RecordingTransport.new(base_url)
    client = live_client(transport:)
    root = client.generate(prompt: "Slow kite", model: "dall-e-2", size: "256x256")
    job = client.upscale(image: root.id, factor: 2, model: "magnific-upscaler", wait: false)
    refute job.terminal?, "wait: false hands back the queued job"
    assert_equal "upscale", job.operation
    assert_equal "succeeded", client.wait_for(job.id).status

    transport.statuses.clear
    cut = client.remove_background(image: job.id)
    assert_equal ["succeeded", [job.id]], [cut.status, cut.parents]
    assert_equal ["POST", 202], transport.statuses.first, "the server handed the job back"
  end

  def test_generate_waits_for_a_job_the_server_hands_back
    transport = RecordingTransport.new(base_url)
    client = live_client(transport:)
    response = client.generate(prompt: "A slow sunset", model: "dall-e-3")
    assert_equal "succeeded", response.status
    assert_equal ["POST", 202], transport.statuses.first, "the server handed the job back"
    assert_operator transport.statuses.count { |method, _| method == "GET" }, :>=, 1
    assert fetch(response.image_url).body.b.start_with?(PNG_SIGNATURE)
  end

  def test_stream_events_follow_a_job_to_the_end
    client = live_client
    job = client.submit(prompt: "A lighthouse in a storm", model: "dall-e-3")
    polled = []
    events = client.stream_events(job.id).map do |event|
      polled << client.get_generation(job.id).status # the client stays usable while streaming
      event
    end
    refute_empty polled
    assert_equal "succeeded", events.last.event
    assert events.last.terminal?
    assert_includes events.map(&:event), "running"
    assert_equal [job.id], events.map { |event| event.data.id }.uniq
    assert_in_delta 1.0, events.last.data.progress
  end

  def test_cancel_a_running_job
    client = live_client
    job = client.submit(prompt: "never mind", model: "dall-e-3")
    canceled = client.cancel(job.id)
    assert_equal "canceled", canceled.status
    assert_equal "canceled", client.wait_for(job.id, timeout: 30).status
    error = assert_raises(Freepik::AiOrchestrator::ConflictError) { client.cancel(job.id) }
    assert_equal 409, error.status
  end

  def test_a_canceled_job_raises_conflict_when_generate_waits_for_it
    client = live_client
    job = client.submit(prompt: "cancel me", model: "dall-e-3")
    client.cancel(job.id)
    # generate with the job's key would replay it; wait on the job as generate does.
    error = assert_raises(Freepik::AiOrchestrator::ConflictError) do
      client.send(:finished, client.wait_for(job.id, timeout: 30))
    end
    assert_equal "generation_canceled", error.code
    assert_equal job.id, error.generation_id
  end

  def test_wait_for_gives_up_with_the_generation_id
    client = live_client
    job = client.submit(prompt: "still going", model: "dall-e-3")
    error = assert_raises(Freepik::AiOrchestrator::APITimeoutError) do
      client.wait_for(job.id, timeout: 0.2, poll_interval: 0.05)
    end
    assert_equal job.id, error.generation_id
    assert_equal "succeeded", client.wait_for(job.id, timeout: 60).status
  end

  def test_batch_items_still_running_are_waited_for
    result = live_client.generate_batch(prompts: %w[one two], model: "dall-e-3")
    assert_equal %w[one two], result.map(&:prompt)
    assert result.all?(&:ok?), result.map(&:status).inspect
    assert_equal 2, result.succeeded
  end
end
