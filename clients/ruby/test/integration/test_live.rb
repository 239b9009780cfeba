# frozen_string_literal: true

require_relative "integration_helper"

# Every method against a real `orchestrator serve` (test-mode keys, offline renderer).
class TestLive < Minitest::Test
  include LiveServer

  def test_the_installed_gem_is_the_one_under_test
    loaded = $LOADED_FEATURES.grep(%r{freepik/ai_orchestrator/client\.rb\z}).first
    skip "running against lib/ (ORCHESTRATOR_ALLOW_LIB=1)" if ENV["ORCHESTRATOR_ALLOW_LIB"] == "1"
    assert loaded.start_with?(Gem::Specification.find_by_name("freepik-ai-orchestrator").gem_dir), loaded
    refute_includes loaded, File.expand_path("../../lib", __dir__)
  end

  def test_generate_returns_a_real_png
    response = live_client.generate(prompt: "A beautiful sunset over mountains", model: "dall-e-3",
                                    style: "photorealistic", metadata: { campaign: "ruby-live" })
    assert_equal "succeeded", response.status
    assert_equal "photorealistic", response.style
    assert_equal({ "campaign" => "ruby-live" }, response.metadata)
    assert_kind_of Time, response.created_at
    assert_operator response.created_at, :<=, Time.now + 5
    assert_operator response.processing_time, :>, 0
    assert_in_delta 0.04, response.cost, 1e-9
    assert_equal false, response.livemode
    assert_match(/\Areq_/, response.request_id)
    image = fetch(response.image_url)
    assert_equal "200", image.code
    assert_equal "image/png", image["content-type"]
    assert image.body.b.start_with?(PNG_SIGNATURE)
    thumbnail = fetch(response.thumbnail_url)
    assert_equal "200", thumbnail.code
  end

  def test_batch_of_three_in_order
    prompts = ["first #{SecureRandom.hex(3)}", "second", "third"]
    result = live_client.generate_batch(prompts:, model: "dall-e-3", batch_size: 2)
    assert_equal prompts, result.map(&:prompt)
    assert_equal [0, 1, 2], result.map(&:index)
    assert_equal prompts, result.generations.map(&:prompt)
    assert_equal [3, 0], [result.succeeded, result.failed]
    assert_in_delta 0.12, result.total_cost, 1e-9
    assert_equal 3, result.map(&:image_url).uniq.size
  end

  def test_models_and_model_info
    models = live_client.list_models
    names = models.map(&:name)
    assert_includes names, "dall-e-3"
    assert models.all? { |model| model.is_a?(AI::ModelInfo) && model.frozen? }
    info = live_client.get_model_info("dall-e-3")
    assert_equal "dall-e-3", info.name
    assert_equal "1792x1024", info.max_resolution
    assert_includes info.supported_styles, "photorealistic"
    assert_in_delta 0.04, info.pricing_per_image, 1e-9
    assert info.available?
  end

  def test_usage_counts_a_new_generation
    client = live_client
    today = Date.today
    before = client.get_usage_stats(start_date: today - 1, end_date: today + 1)
    client.generate(prompt: "usage probe", model: "dall-e-3")
    after = client.get_usage_stats(start_date: (today - 1).to_s, end_date: (today + 1).to_s, group_by: "model")
    assert_equal before.total_generations + 1, after.total_generations
    assert_in_delta before.total_cost + 0.04, after.total_cost, 1e-6
    assert_equal today - 1, after.start_date
    assert_includes after.by_model.map(&:key), "dall-e-3"
  end

  def test_history_pages_over_three_pages_without_overlap
    client = live_client
    tag = SecureRandom.hex(4)
    batch = client.generate_batch(prompts: (1..5).map { |i| "history #{i}" }, model: "dall-e-3",
                                  metadata: { run: tag })
    created = batch.generations.map(&:id)
    assert_equal 5, created.size

    history = client.get_generation_history(limit: 2, metadata: { run: tag })
    pages = history.each_page.map { |page| page.data.map(&:id) }
    assert_equal [2, 2, 1], pages.map(&:size)
    ids = history.map(&:id)
    assert_equal ids.uniq, ids, "no generation on two pages"
    assert_equal created.sort, ids.sort
    assert_equal pages.flatten, ids
    assert_equal ids.sort.reverse, ids, "newest first (ids sort by creation)"
    assert_equal 3, history.first(3).size
  end

  def test_a_bad_key_raises_authentication_error
    client = AI::Client.new(base_url:, api_key: "sk-test-not-a-real-key")
    @clients << client
    error = assert_raises(AI::AuthenticationError) { client.list_models }
    assert_equal 401, error.status
    assert_match(/\Areq_/, error.request_id)
  end

  def test_rate_limited_with_retries_off
    client = AI::Client.new(base_url:, api_key: ENV.fetch("ORCHESTRATOR_TEST_LIMITED_KEY"), max_retries: 0)
    @clients << client
    error = assert_raises(AI::RateLimitError) { 2.times { client.list_models } }
    assert_equal 429, error.status
    assert_operator error.retry_after, :>, 0
    assert_equal 1, error.limit
    assert_equal "rate_limit_exceeded", error.code
  end

  def test_unknown_model
    client = live_client
    error = assert_raises(AI::ModelNotAvailableError) { client.get_model_info("no-such-model") }
    assert_equal 404, error.status
    assert_raises(AI::ModelNotAvailableError) { client.generate(prompt: "p", model: "no-such-model") }
  end

  def test_invalid_request_names_the_field
    error = assert_raises(AI::InvalidRequestError) { live_client.generate(prompt: "p", model: "dall-e-3", n: 2) }
    assert_equal "n", error.param
  end

  def test_an_async_job_polled_to_succeeded
    client = live_client
    job = client.submit(prompt: "A lighthouse in a storm", model: "dall-e-3")
    assert_includes %w[queued running succeeded], job.status
    done = client.wait_for(job.id, timeout: 60, poll_interval: 0.1)
    assert_equal "succeeded", done.status
    assert_equal job.id, done.id
    assert_equal done.image_url, client.get_generation(job.id).image_url
  end

  def test_the_same_idempotency_key_replays_instead_of_paying_twice
    client = live_client
    key = SecureRandom.uuid
    first = client.generate(prompt: "only once", model: "dall-e-3", idempotency_key: key)
    second = client.generate(prompt: "only once", model: "dall-e-3", idempotency_key: key)
    assert_equal first.id, second.id
    refute first.idempotent_replayed?
    assert second.idempotent_replayed?
    assert_raises(AI::ConflictError) { client.generate(prompt: "something else", model: "dall-e-3", idempotency_key: key) }
  end

  def test_download_writes_real_files
    client = live_client
    response = client.generate(prompt: "A lighthouse at dusk", model: "dall-e-3")
    Dir.mktmpdir do |tmp|
      folder = File.join(tmp, "images", "new")
      paths = client.download(response, folder)
      assert_equal [File.join(folder, "#{response.id}-0.png")], paths
      assert File.binread(paths.first).start_with?(PNG_SIGNATURE)
      assert_equal fetch(response.image_url).body.bytesize, File.size(paths.first)
      thumbs = client.download(response.id, folder, thumbnail: true)
      assert_equal [File.join(folder, "#{response.id}-0-thumb.webp")], thumbs
      assert_equal "WEBP", File.binread(thumbs.first)[8, 4]
      assert_raises(AI::DestinationExistsError) { client.download(response, folder) }
      assert_equal paths, client.download(response, folder, overwrite: true)
      assert_equal [File.join(tmp, "1-0.png")], client.download(response.image_url, tmp)
      assert_equal 3, Dir.glob(File.join(tmp, "**", "*")).count { |p| File.file?(p) }
    end
  end

  def test_one_persistent_connection_per_client
    client = live_client
    client.list_models
    http = client.instance_variable_get(:@transport).instance_variable_get(:@http)
    port = http.instance_variable_get(:@socket).io.local_address.ip_port
    client.get_model_info("dall-e-3")
    client.get_generation_history(limit: 1).data
    assert_same http, client.instance_variable_get(:@transport).instance_variable_get(:@http)
    assert_equal port, http.instance_variable_get(:@socket).io.local_address.ip_port, "the same TCP connection"
    client.close
    refute http.started?
    assert_equal "dall-e-3", client.get_model_info("dall-e-3").name, "a closed client reconnects"
  end
end
