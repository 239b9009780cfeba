# frozen_string_literal: true

module Freepik
  module AiOrchestrator
    # Time, sleep and randomness as the client sees them: one object, so tests can swap in a
    # fake and run retries, backoff and polling without waiting.
    class SystemClock
      # Wall-clock UNIX seconds (HTTP-date Retry-After is relative to it).
      def now
        Time.now.to_f
      end

      # Monotonic seconds (deadlines).
      def monotonic
        Process.clock_gettime(Process::CLOCK_MONOTONIC)
      end

      def sleep(seconds)
        Kernel.sleep(seconds) if seconds.positive?
      end

      # A float in [0, 1) for backoff jitter.
      def rand
        Random.rand
      end
    end
  end
end
