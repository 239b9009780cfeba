# frozen_string_literal: true

require "base64"
require "openssl"
require_relative "../test_helper"

# The verifier's refusals (the acceptance of the server's real signatures is in
# test/integration/test_webhooks.rb), and the management calls' requests.
class TestWebhooks < Minitest::Test
  include TestSupport::ClientFactory

  AI = Freepik::AiOrchestrator
  KEY = "0123456789abcdef0123456789abcdef".b
  SECRET = "whsec_#{Base64.strict_encode64(KEY)}".freeze
  BODY = '{"type":"webhook.test","data":{}}'
  NOW = 1_767_225_600

  def headers(body = BODY, id: "msg_1", timestamp: NOW, key: KEY)
    signature = Base64.strict_encode64(OpenSSL::HMAC.digest("SHA256", key, "#{id}.#{timestamp}.#{body}"))
    { "Webhook-Id" => id, "Webhook-Timestamp" => timestamp.to_s, "Webhook-Signature" => "v0,x v1,#{signature}" }
  end

  def test_a_valid_signature_gives_the_event
    assert_equal({ "type" => "webhook.test", "data" => {} }, AI.verify_webhook(BODY, headers, SECRET, now: NOW))
  end

  def test_a_changed_body_is_refused
    error = assert_raises(AI::WebhookVerificationError) { AI.verify_webhook(BODY.sub("test", "tset"), headers, SECRET, now: NOW) }
    assert_match(/no matching webhook signature/, error.message)
  end

  def test_another_secret_is_refused
    assert_raises(AI::WebhookVerificationError) { AI.verify_webhook(BODY, headers(key: "x" * 32), SECRET, now: NOW) }
  end

  def test_a_timestamp_outside_the_tolerance_is_refused
    assert_raises(AI::WebhookVerificationError) { AI.verify_webhook(BODY, headers, SECRET, now: NOW + 301) }
    assert_equal "webhook.test", AI.verify_webhook(BODY, headers, SECRET, now: NOW + 300)["type"]
  end

  def test_a_missing_header_is_refused
    %w[Webhook-Id Webhook-Timestamp Webhook-Signature].each do |name|
      partial = headers.reject { |key, _| key == name }
      assert_raises(AI::WebhookVerificationError) { AI.verify_webhook(BODY, partial, SECRET, now: NOW) }
    end
  end

  def test_the_error_is_the_base_error
    assert_operator AI::WebhookVerificationError, :<, AI::Error
  end

  def test_pause_sends_enabled_false_and_update_needs_a_change
    @transport.json({ "id" => "wh_1", "url" => "https://example.com/h", "status" => "disabled" })
    assert_equal "disabled", client.pause_webhook("wh_1").status
    request = @transport.requests.last
    assert_equal ["PATCH", "http://api.test/api/v1/webhooks/wh_1"], [request.method, request.url.to_s]
    assert_equal({ "enabled" => false }, JSON.parse(request.body))
    assert_raises(ArgumentError) { client.update_webhook("wh_1") }
  end
end
