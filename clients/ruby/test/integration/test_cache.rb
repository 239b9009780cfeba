# frozen_string_literal: true

require_relative "integration_helper"

# The result cache against a real server: a second identical seeded request is served from the
# first at cost 0, and usage counts it.
class TestCache < Minitest::Test
  include LiveServer

  def test_a_second_identical_seeded_request_is_served_from_the_cache
    client = live_client
    today = Time.now.utc.to_date # the server's days are UTC
    month = Date.new(today.year, today.month, 1)
    before = client.get_usage_stats(start_date: month, end_date: today)
    prompt = "a lighthouse at dusk #{SecureRandom.hex(6)}"

    first = client.generate(prompt:, model: "stable-image-core", seed: 42, cache: true)
    assert_equal [false, nil], [first.cached, first.cached_from]
    second = client.generate(prompt:, model: "stable-image-core", seed: 42, cache: true)
    refute_equal first.id, second.id
    assert_equal [true, first.id], [second.cached, second.cached_from]
    assert_equal 0.0, second.cost
    assert client.get_generation(second.id).cached

    after = client.get_usage_stats(start_date: month, end_date: today, group_by: "cache")
    assert_operator after.cached_generations - before.cached_generations, :>=, 1
    assert_operator after.groups.sum(&:cached), :>=, 1
  end
end
