# frozen_string_literal: true

require "base64"
require_relative "integration_helper"

# Webhook endpoints managed through a real server, and its real deliveries (recorded by the
# receiver of scripts/with_test_server.py --webhook-receiver) verified with this gem.
class TestWebhooksLive < Minitest::Test
  include LiveServer

  def setup
    super
    skip "run through scripts/with_test_server.py --webhook-receiver" unless ENV["ORCHESTRATOR_TEST_WEBHOOK_URL"]
  end

  # Waits (up to 30 s) for the delivery whose webhook-id is +id+, or the first of +event_type+.
  def received(path, id: nil, event_type: nil)
    deadline = Process.clock_gettime(Process::CLOCK_MONOTONIC) + 30
    loop do
      Dir[File.join(ENV.fetch("ORCHESTRATOR_TEST_WEBHOOK_DIR"), "*.json")].each do |file|
        record = JSON.parse(File.read(file))
        next unless record["path"] == path

        body = Base64.strict_decode64(record["body_base64"])
        headers = record["headers"].transform_keys(&:downcase)
        return [body, headers] if id ? headers["webhook-id"] == id : JSON.parse(body)["type"] == event_type
      end
      flunk "no webhook #{id || event_type} received in 30 s" if Process.clock_gettime(Process::CLOCK_MONOTONIC) > deadline
      sleep 0.05
    end
  end

  def test_manage_an_endpoint_and_verify_real_deliveries
    client = live_client
    # A path of its own: the receiver may also get other suites' deliveries.
    path = "/hooks/ruby-#{SecureRandom.hex(4)}"
    url = ENV.fetch("ORCHESTRATOR_TEST_WEBHOOK_URL").sub(%r{/hooks\z}, path)
    endpoint = client.create_webhook(url, events: ["generation.succeeded"], description: "ruby sdk")
    assert_match(/\Awhsec_/, endpoint.secret)
    assert_equal [url, "enabled"], [endpoint.url, endpoint.status]
    assert_includes client.list_webhooks.map(&:id), endpoint.id
    assert_nil client.get_webhook(endpoint.id).secret, "the secret is shown once"

    generation = client.generate(prompt: "a lighthouse", model: "dall-e-3")
    body, headers = received(path, event_type: "generation.succeeded")
    event = AI.verify_webhook(body, headers, endpoint.secret)
    assert_equal generation.id, event["data"]["id"]
    assert_raises(AI::WebhookVerificationError) do
      AI.verify_webhook(body.sub(generation.id, "gen_forged"), headers, endpoint.secret)
    end

    queued = client.send_test_webhook(endpoint.id)
    assert_equal %w[webhook_delivery webhook.test], [queued.object, queued.event_type]
    body, headers = received(path, id: queued.id)
    assert_equal "webhook.test", AI.verify_webhook(body, headers, endpoint.secret)["type"]
    assert_includes client.list_webhook_deliveries(endpoint.id).map(&:id), queued.id

    assert_equal "disabled", client.pause_webhook(endpoint.id).status
    error = assert_raises(AI::ConflictError) { client.send_test_webhook(endpoint.id) }
    assert_equal "webhook_disabled", error.code
    assert_equal "enabled", client.resume_webhook(endpoint.id).status
    assert_nil client.update_webhook(endpoint.id, description: nil).description

    assert_equal endpoint.id, client.delete_webhook(endpoint.id).id
    assert_raises(AI::NotFoundError) { client.get_webhook(endpoint.id) }
  end
end
