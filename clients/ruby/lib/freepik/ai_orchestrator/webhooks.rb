# frozen_string_literal: true

require "base64"
require "json"
require "openssl"

module Freepik
  # The Freepik AI Orchestrator client (lib/freepik/ai_orchestrator.rb loads every part).
  module AiOrchestrator
    # Verifying the orchestrator's webhooks (Standard Webhooks 1.0), with the standard library.
    module Webhooks
      SECRET_PREFIX = "whsec_"
      # Seconds a delivery's timestamp may be from now (replayed or forged deliveries are older).
      DEFAULT_TOLERANCE = 300

      module_function

      # Checks a delivery and returns its parsed JSON event (a Hash).
      #
      # +payload+ is the raw request body, byte for byte; +headers+ the request's headers (any
      # case); +secret+ the endpoint's <tt>whsec_…</tt> secret, shown once when it was created.
      # Retries of a delivery keep their +webhook-id+: use it to ignore duplicates. Raises
      # WebhookVerificationError when a header is missing, no +v1+ signature matches, or the
      # timestamp is more than +tolerance+ seconds from +now+.
      def verify(payload, headers, secret, tolerance: DEFAULT_TOLERANCE, now: Time.now.to_f)
        lowered = headers.to_h { |name, value| [name.to_s.downcase, Array(value).first.to_s] }
        id, timestamp, signatures = lowered.values_at("webhook-id", "webhook-timestamp", "webhook-signature")
        if [id, timestamp, signatures].any? { |value| value.nil? || value.empty? }
          raise WebhookVerificationError, "missing webhook-id, webhook-timestamp or webhook-signature header"
        end
        raise WebhookVerificationError, "webhook-timestamp is not a Unix time" unless timestamp.match?(/\A\d+\z/)
        raise WebhookVerificationError, "webhook timestamp is outside the tolerance" if (now - timestamp.to_i).abs > tolerance

        body = payload.to_s.b
        expected = OpenSSL::HMAC.digest("SHA256", secret_key(secret), "#{id}.#{timestamp}.".b + body)
        matched = signatures.split.any? do |candidate|
          version, value = candidate.split(",", 2)
          version == "v1" && value && secure_equal?(expected, decode64(value))
        end
        raise WebhookVerificationError, "no matching webhook signature" unless matched

        JSON.parse(body)
      end

      def secret_key(secret)
        key = secret.to_s.delete_prefix(SECRET_PREFIX)
        decoded = decode64(key)
        raise WebhookVerificationError, "the secret is not a whsec_ secret" if decoded.nil? || decoded.empty?

        decoded
      end

      def decode64(text)
        Base64.strict_decode64(text)
      rescue ArgumentError
        nil
      end

      def secure_equal?(expected, given)
        !given.nil? && given.bytesize == expected.bytesize && OpenSSL.fixed_length_secure_compare(expected, given)
      end
    end

    # Shorthand for Webhooks.verify.
    def self.verify_webhook(payload, headers, secret, **options)
      Webhooks.verify(payload, headers, secret, **options)
    end
  end
end
