# frozen_string_literal: true

module Freepik
  module AiOrchestrator
    # Base class of every error this client raises.
    #
    # Tree (the same as the Python client's):
    #
    #   Error (alias OrchestrationError, the 0.x name, kept)
    #   ├── APIConnectionError            the request never got an HTTP answer
    #   │   └── APITimeoutError           ... because a timeout expired
    #   └── APIStatusError                the server answered with an error status
    #       ├── InvalidRequestError       400, 422 (and other unmapped 4xx)
    #       │   └── ContentPolicyError    422 content_policy_violation
    #       ├── AuthenticationError       401
    #       │   └── PermissionDeniedError 403
    #       ├── BudgetExceededError       402
    #       ├── NotFoundError             404
    #       ├── ModelNotAvailableError    404 / 503 with type model_not_available
    #       ├── ConflictError             409
    #       ├── RateLimitError            429 (#retry_after)
    #       ├── ProviderError             502, 504
    #       │   └── ProviderTimeoutError  504 provider_timeout
    #       └── InternalServerError       other 5xx
    #
    # Every error carries #message, #status (alias #status_code), #code, #type, #param,
    # #request_id, #generation_id, #body and #headers (nil or empty when unknown).
    class Error < StandardError
      attr_reader :status, :code, :type, :param, :request_id, :generation_id, :body, :headers

      def initialize(message = nil, status: nil, code: nil, type: nil, param: nil, request_id: nil,
                     generation_id: nil, body: nil, headers: nil)
        @message = (message || self.class.name).to_s
        @status = status
        @code = code
        @type = type
        @param = param
        @request_id = request_id
        @generation_id = generation_id
        @body = body
        @headers = (headers || {}).transform_keys { |k| k.to_s.downcase }.freeze
        super(@message)
      end

      # The server's message alone (#to_s adds status, code and request id).
      attr_reader :message

      alias status_code status

      def to_s
        details = { "status" => status, "code" => code, "request_id" => request_id }
                  .compact
                  .map { |name, value| "#{name}=#{value}" }
        details.empty? ? @message : "#{@message} (#{details.join(", ")})"
      end

      def inspect
        "#<#{self.class.name}: #{self}>"
      end
    end

    # The name of the base class up to 0.3; kept so existing +rescue+ clauses still work.
    OrchestrationError = Error

    # #download would replace an existing file and +overwrite+ is false. #filename names it;
    # nothing was fetched when the name was known up front. (Up to 0.3: Errno::EEXIST.)
    class DestinationExistsError < Error
      attr_reader :filename

      def initialize(filename)
        @filename = filename.to_s
        super("#{@filename} exists; pass overwrite: true to replace it", code: "file_exists")
      end
    end

    # A webhook delivery failed verification (a header is missing, no v1 signature matches,
    # or its timestamp is outside the tolerance).
    class WebhookVerificationError < Error; end

    # No HTTP response was received (DNS, refused connection, reset...). #cause holds the
    # underlying Ruby exception.
    class APIConnectionError < Error; end

    # A timeout expired: the call's, or the deadline given to #wait_for.
    class APITimeoutError < APIConnectionError; end

    # The server answered with an error status; #status is always set.
    class APIStatusError < Error; end

    # The request was malformed or refused by validation (400, 422).
    class InvalidRequestError < APIStatusError; end

    # The prompt was refused by a safety system (422 content_policy_violation).
    class ContentPolicyError < InvalidRequestError; end

    # Missing, unknown or revoked credentials (401).
    class AuthenticationError < APIStatusError; end

    # Valid credentials without the needed scope (403).
    class PermissionDeniedError < AuthenticationError; end

    # The key's or project's budget is spent (402).
    class BudgetExceededError < APIStatusError; end

    # No such resource (404).
    class NotFoundError < APIStatusError; end

    # The model is unknown (404) or no provider can serve it now (503).
    class ModelNotAvailableError < APIStatusError; end

    # Idempotency conflict, or an operation that does not fit the resource's state (409).
    class ConflictError < APIStatusError; end

    # Too many requests (429). #retry_after is the server's wait hint in seconds, if any;
    # #limit, #remaining and #reset come from the RateLimit-* headers.
    class RateLimitError < APIStatusError
      attr_reader :retry_after, :limit, :remaining, :reset

      def initialize(message = nil, retry_after: nil, **fields)
        super(message, **fields)
        @retry_after = retry_after
        @limit = int_header("ratelimit-limit")
        @remaining = int_header("ratelimit-remaining")
        @reset = int_header("ratelimit-reset")
      end

      private

      def int_header(name)
        value = headers[name]
        value && Integer(value.to_s.strip, 10, exception: false)
      end
    end

    # The upstream image provider failed (502), or a generation failed while we waited for it.
    class ProviderError < APIStatusError; end

    # The upstream provider did not answer in time (504 provider_timeout).
    class ProviderTimeoutError < ProviderError; end

    # The orchestrator itself failed (5xx other than 502/504, and 503 without model info).
    class InternalServerError < APIStatusError; end

    # One function decides the class for every error the server can send, so HTTP answers,
    # batch items and failed jobs cannot disagree.
    module Errors
      # The HTTP status implied by an envelope type when there is no response status
      # (batch items and failed jobs carry only the error object).
      STATUS_FOR_TYPE = {
        "invalid_request_error" => 422,
        "authentication_error" => 401,
        "permission_error" => 403,
        "budget_exceeded" => 402,
        "not_found" => 404,
        "model_not_available" => 404,
        "idempotency_conflict" => 409,
        "conflict" => 409,
        "rate_limit_error" => 429,
        "provider_error" => 502,
        "provider_timeout" => 504,
        "internal_error" => 500
      }.freeze

      # A failed job reports only {code, message}; these are the statuses the synchronous
      # endpoint answers for the same codes, so both paths raise alike.
      STATUS_FOR_CODE = {
        "content_policy_violation" => 422,
        "provider_timeout" => 504,
        "provider_error" => 502,
        "provider_rejected_request" => 502,
        "provider_auth_failed" => 502,
        "model_not_available" => 503,
        "generation_canceled" => 409,
        "rate_limit_exceeded" => 429,
        "budget_exceeded" => 402
      }.freeze

      FIXED_4XX = {
        401 => AuthenticationError,
        402 => BudgetExceededError,
        403 => PermissionDeniedError,
        404 => NotFoundError,
        409 => ConflictError,
        429 => RateLimitError
      }.freeze

      module_function

      # The error for an error answer. +body+ is the decoded JSON body (the envelope
      # {"error" => {...}}, a bare error object, or anything else a proxy may have sent).
      # With +status+ nil (a batch item or a failed job) the status is inferred from the
      # error's status, code or type.
      def build(status, body, headers = {}, retry_after: nil, text: nil)
        error = error_object(body)
        type = string_or_nil(error["type"])
        code = string_or_nil(error["code"])
        status = inferred_status(error, type, code) if status.nil?
        lowered = (headers || {}).transform_keys { |k| k.to_s.downcase }
        fields = {
          status:,
          code:,
          type:,
          param: string_or_nil(error["param"]),
          request_id: string_or_nil(error["request_id"]) || lowered["x-request-id"],
          generation_id: string_or_nil(error["generation_id"]),
          body:,
          headers: lowered
        }
        message = string_or_nil(error["message"]) || fallback_message(status, body, text)
        klass = class_for(status, type, code)
        return RateLimitError.new(message, retry_after:, **fields) if klass == RateLimitError

        klass.new(message, **fields)
      end

      def class_for(status, type, code)
        return ModelNotAvailableError if [type, code].include?("model_not_available") && [404, 503].include?(status)
        # 408: the server gave up waiting for our request; retried, not a bad request.
        return APIStatusError if status == 408
        if [400, 422].include?(status) || (status >= 400 && status < 500 && !FIXED_4XX.key?(status))
          return code == "content_policy_violation" ? ContentPolicyError : InvalidRequestError
        end
        return FIXED_4XX[status] if FIXED_4XX.key?(status)
        if [502, 504].include?(status)
          return [code, type].include?("provider_timeout") ? ProviderTimeoutError : ProviderError
        end
        return InternalServerError if status >= 500

        APIStatusError
      end

      def error_object(body)
        return {} unless body.is_a?(Hash)
        return body["error"] if body["error"].is_a?(Hash)
        return body if body.key?("code") || body.key?("type") || body.key?("message")

        {}
      end

      def inferred_status(error, type, code)
        status = error["status"]
        return status if status.is_a?(Integer)
        return STATUS_FOR_CODE[code] if STATUS_FOR_CODE.key?(code)
        return STATUS_FOR_TYPE[type] if STATUS_FOR_TYPE.key?(type)

        500 # as the synchronous endpoint answers for a failure it cannot classify
      end

      def fallback_message(status, body, text)
        snippet = (text || (body.is_a?(String) ? body : "") || "").strip
        snippet.empty? ? "HTTP #{status}" : "HTTP #{status}: #{snippet[0, 200]}"
      end

      def string_or_nil(value)
        value.is_a?(String) ? value : nil
      end
    end
  end
end
