# frozen_string_literal: true

require "time"

module Freepik
  module AiOrchestrator
    # Retry arithmetic, with no I/O: which failures are retried, and how long to wait.
    #
    # The rules (also in clients/spec/conformance.json, which every SDK's tests load):
    #
    # 1. Never more than +max_retries+ retries.
    # 2. Connection errors and timeouts are retried with backoff.
    # 3. <tt>x-should-retry: false</tt> forbids a retry; <tt>x-should-retry: true</tt> asks for
    #    one even on a status that is not normally retried.
    # 4. A server wait hint (+retry-after-ms+, else +Retry-After+ as seconds or an HTTP date)
    #    longer than MAX_RETRY_AFTER (30 s) means "not now": no retry, the error is raised with
    #    +retry_after+ set so the caller can decide.
    # 5. An error naming a +generation_id+ reports a job that ran and failed (the server already
    #    retried and fell back across providers): final, since a retry would only replay it.
    # 6. Otherwise retried: 408, 429, 5xx except 501 and 505, and 409 when it carries a wait hint
    #    (an idempotency key still in flight; a 409 without one is a real conflict).
    # 7. The wait is the server's hint when there is one, else
    #    <tt>min(retry_backoff * 2**retries_so_far, max(8, retry_backoff)) * (1 - 0.25 * rand)</tt>.
    module RetryPolicy
      DEFAULT_MAX_RETRIES = 2
      DEFAULT_RETRY_BACKOFF = 0.5
      MAX_BACKOFF = 8.0
      MAX_RETRY_AFTER = 30.0
      JITTER = 0.25

      NOT_RETRIED_5XX = [501, 505].freeze
      DECIMAL = /\A[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?\z/

      # Whether to send the request again, after how many seconds, and the server's wait hint
      # (kept even when not retrying).
      Decision = Struct.new(:retry, :delay, :retry_after, keyword_init: true) do
        def retry?
          self.retry
        end
      end

      module_function

      # Seconds the server asks us to wait, or nil. Reads +retry-after-ms+ first, then
      # +retry-after+ as (fractional) seconds, then as an HTTP date relative to +now+ (UNIX
      # seconds). A date in the past means "now" (0). Negative, non-finite and unparsable
      # values are ignored.
      def parse_retry_after(headers, now)
        lowered = (headers || {}).to_h { |k, v| [k.to_s.downcase, v.to_s] }
        millis = non_negative_float(lowered["retry-after-ms"])
        return millis / 1000.0 unless millis.nil?

        raw = lowered["retry-after"]
        return nil if raw.nil?

        seconds = non_negative_float(raw)
        return seconds unless seconds.nil?

        begin
          [Time.httpdate(raw.strip).to_f - now, 0.0].max
        rescue ArgumentError
          nil
        end
      end

      def non_negative_float(raw)
        return nil if raw.nil?

        text = raw.strip
        return nil unless DECIMAL.match?(text)

        value = Float(text)
        value.finite? && value >= 0 ? value : nil
      end

      # Exponential backoff with a cap and downward jitter. +random_value+ is in [0, 1); the
      # factor <tt>1 - 0.25 * random_value</tt> keeps each wait within 75-100 % of the nominal
      # value, so clients that failed together spread out.
      def backoff_delay(retries_so_far, retry_backoff, random_value)
        cap = [MAX_BACKOFF, retry_backoff].max
        nominal = [retry_backoff * (2.0**retries_so_far), cap].min
        nominal * (1.0 - (JITTER * random_value))
      end

      # Statuses retried without an explicit x-should-retry.
      def retryable_status?(status, has_wait_hint)
        return true if [408, 429].include?(status)
        return has_wait_hint if status == 409

        status >= 500 && !NOT_RETRIED_5XX.include?(status)
      end

      # Decide for one failed attempt. +status+ is nil for a connection error or timeout;
      # +body+ is the decoded error body, if any.
      def decide(retries_so_far:, max_retries:, retry_backoff:, status:, headers:, now:, random_value:, body: nil)
        retry_after = status.nil? ? nil : parse_retry_after(headers, now)
        no = Decision.new(retry: false, delay: 0.0, retry_after:)
        return no if retries_so_far >= max_retries

        backoff = backoff_delay(retries_so_far, retry_backoff, random_value)
        return Decision.new(retry: true, delay: backoff, retry_after: nil) if status.nil?

        should = (headers || {}).find { |k, _| k.to_s.casecmp?("x-should-retry") }&.last.to_s.strip.downcase
        return no if should == "false"
        return no if !retry_after.nil? && retry_after > MAX_RETRY_AFTER
        return no if names_generation?(body)
        if should == "true" || retryable_status?(status, !retry_after.nil?)
          return Decision.new(retry: true, delay: retry_after || backoff, retry_after:)
        end

        no
      end

      def names_generation?(body)
        error = body.is_a?(Hash) ? body["error"] : nil
        error.is_a?(Hash) && !error["generation_id"].nil? && error["generation_id"] != ""
      end
    end
  end
end
