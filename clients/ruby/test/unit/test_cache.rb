# frozen_string_literal: true

require_relative "../test_helper"

# The result cache (conformance.json `cache`): the +cache+ keyword of #generate, #submit and the
# five image operations (sent only when set, as JSON or a multipart text part; a bad value is an
# ArgumentError before any request), the response fields, and the usage and catalog fields
# modelled with them (budget, per-status counts, a model's operations).
class TestCache < Minitest::Test
  include TestSupport::ClientFactory

  AI = Freepik::AiOrchestrator
  SPEC = TestSupport.spec.fetch("cache")
  PNG = "\x89PNG\r\n\x1A\n\0\0\0\rIHDR".b

  # Calls a method of the spec's `methods` with its required arguments and +cache+.
  def call(method, cache, image: "gen_abc")
    api = client
    case method
    when "generate" then api.generate(prompt: "a red fox", model: "stable-image-core", seed: 7, cache:)
    when "edit" then api.edit(prompt: "paint it teal", images: image, cache:)
    when "variation" then api.create_variation(image:, cache:)
    when "upscale" then api.upscale(image:, cache:)
    when "remove_background" then api.remove_background(image:, cache:)
    when "image_to_image" then api.image_to_image(prompt: "a field at dawn", image:, cache:)
    else raise "no call for #{method}"
    end
  end

  def body(index = 0)
    JSON.parse(@transport.requests.fetch(index).body)
  end

  SPEC.fetch("methods").each do |method|
    SPEC.fetch("values").each do |value|
      define_method("test_#{method}_sends_cache_#{value["value"].inspect}_only_when_set") do
        @transport.json(TestSupport.generation("gen_c"))
        call(method, value["value"])
        if value["sent"] == "absent"
          refute body.key?("cache"), body.inspect
        else
          assert_equal value["sent"], body["cache"]
        end
      end
    end

    SPEC.fetch("invalid_values").each do |bad|
      define_method("test_#{method}_refuses_cache_#{bad.inspect}_before_any_request") do
        error = assert_raises(ArgumentError) { call(method, bad) }
        assert error.message.start_with?("cache"), error.message
        assert_empty @transport.requests
      end
    end
  end

  def test_the_symbol_always_is_sent_as_the_string
    @transport.json(TestSupport.generation("gen_c"))
    call("generate", :always)
    assert_equal "always", body["cache"]
  end

  def test_submit_sends_the_option
    @transport.json(TestSupport.generation("gen_q", status: "queued", image_url: nil), status: 202)
    client.submit(prompt: "a red fox", model: "stable-image-core", seed: 7, cache: "always")
    assert_equal "always", body["cache"]
  end

  def test_a_multipart_body_carries_it_as_a_text_part
    SPEC.fetch("values").select { |value| value.key?("multipart") }.each do |value|
      @transport.json(TestSupport.generation("gen_c"))
      call("upscale", value["value"], image: AI::ImageFile.new(PNG))
      sent = @transport.requests.last.body.b
      assert_includes sent, "name=\"cache\"\r\n\r\n#{value["multipart"]}\r\n".b, value["value"].inspect
    end
  end

  SPEC.fetch("cases").each do |c|
    define_method("test_response_#{c["name"].tr(" ", "_")}") do
      generation = TestSupport.generation("gen_c").merge(c["generation"])
      @transport.json(generation)
      @transport.json({ "object" => "list", "data" => [generation], "has_more" => false, "next_cursor" => nil })
      result = call("generate", true)
      assert_equal c["expected"]["cached"], result.cached
      if c["expected"]["cached_from"].nil?
        assert_nil result.cached_from
      else
        assert_equal c["expected"]["cached_from"], result.cached_from
      end
      assert_in_delta c["expected"]["cost"], result.cost, 1e-12
      assert_equal c["expected"]["cached"], client.get_generation_history(limit: 1).data.first.cached
    end
  end

  def test_usage_counts_cached_generations
    usage_case = SPEC.fetch("usage_case")
    @transport.json({ "object" => "usage", "start_date" => "2026-01-01", "end_date" => "2026-01-31" }
                      .merge(usage_case["usage"]))
    usage = client.get_usage_stats(start_date: "2026-01-01", end_date: "2026-01-31", group_by: SPEC["group_by"])
    assert_includes @transport.requests[0].url.to_s, "group_by=cache"
    expected = usage_case["expected"]
    assert_equal expected["cached_generations"], usage.cached_generations
    assert_in_delta expected["cache_savings"], usage.cache_savings, 1e-12
    bucket = usage.groups.first
    assert_equal [expected["group_key"], expected["group_cached"]], [bucket.key, bucket.cached]
    assert_in_delta expected["group_cache_savings"], bucket.cache_savings, 1e-12
  end

  def test_the_fields_default_when_an_older_server_leaves_them_out
    objects = {
      "generation" => AI::GenerationResponse.from_hash(TestSupport.generation("gen_c")),
      "usage" => AI::UsageStats.from_hash({ "start_date" => "2026-01-01", "end_date" => "2026-01-31" }),
      "usage_bucket" => AI::UsageBucket.from_hash({ "key" => "k" })
    }
    objects.each do |name, object|
      SPEC.fetch("response_fields").fetch(name).each do |field, rule|
        value = object.public_send(field)
        rule["default"].nil? ? assert_nil(value, "#{name}.#{field}") : assert_equal(rule["default"], value, "#{name}.#{field}")
      end
    end
  end

  def test_usage_reads_the_budget_and_the_per_status_counts
    data = {
      "start_date" => "2026-01-01", "end_date" => "2026-01-31", "succeeded_generations" => 3,
      "active_generations" => 1, "storage_bytes" => 2048,
      "budget" => [{ "scope" => "key", "key_id" => "key_1", "monthly_budget" => 10, "spent" => 2.5,
                     "reserved" => 0.5, "remaining" => 7.0, "period_start" => "2026-01-01" }],
      "groups" => [{ "key" => "key_1", "name" => "ci", "generations" => 5, "succeeded" => 3, "failed" => 1,
                     "canceled" => 0, "active" => 1 }]
    }
    usage = AI::UsageStats.from_hash(data)
    assert_equal [3, 1, 2048], [usage.succeeded_generations, usage.active_generations, usage.storage_bytes]
    budget = usage.budget.first
    assert_equal ["key", "key_1", 10.0, 2.5, 0.5, 7.0, Date.new(2026, 1, 1)],
                 [budget.scope, budget.key_id, budget.monthly_budget, budget.spent, budget.reserved,
                  budget.remaining, budget.period_start]
    bucket = usage.groups.first
    assert_equal ["ci", 3, 1, 0, 1], [bucket.name, bucket.succeeded, bucket.failed, bucket.canceled, bucket.active]
  end

  def test_a_models_operations_are_read
    data = {
      "name" => "stable-image-core", "text_to_image" => false,
      "operations" => { "upscale" => {
        "max_input_images" => 1, "mask" => false, "prompt" => false, "max_images" => 1, "price" => 0.025,
        "pricing" => { "2x" => { "*" => 0.025 }, "4x" => { "*" => 0.05 } }, "providers" => ["stability"],
        "factors" => [2, 4], "strength" => nil, "default_strength" => nil
      } }
    }
    model = AI::ModelInfo.from_hash(data)
    assert_equal false, model.text_to_image
    assert_equal ["upscale"], model.operations.keys
    upscale = model.operations["upscale"]
    assert_instance_of AI::OperationInfo, upscale
    assert_equal [2, 4], upscale.factors
    assert_in_delta 0.05, upscale.pricing["4x"]["*"], 1e-12
    assert_equal ["stability"], upscale.providers
    assert_nil upscale.strength
    assert_equal true, AI::ModelInfo.from_hash({ "name" => "dall-e-3" }).text_to_image
    assert_equal({}, AI::ModelInfo.from_hash({ "name" => "dall-e-3" }).operations)
  end
end
