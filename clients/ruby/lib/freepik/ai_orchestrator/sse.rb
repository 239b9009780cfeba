# frozen_string_literal: true

module Freepik
  module AiOrchestrator
    # A minimal Server-Sent Events decoder (the subset of the WHATWG rules the server uses).
    # Fed raw chunks; yields [event, data, id] for each event a blank line completes. Comment
    # lines (": ping") are keep-alives and are ignored.
    class SSEDecoder
      attr_reader :last_id

      def initialize
        @buffer = +""
        @event = +""
        @data = []
        @last_id = nil
      end

      def feed(chunk)
        @buffer << chunk
        while (index = @buffer.index("\n"))
          line = @buffer.slice!(0, index + 1).chomp.delete_suffix("\r")
          dispatched = line(line)
          yield dispatched if dispatched
        end
      end

      # An event left open when the stream ended without a final blank line.
      def flush
        dispatched = line(@buffer.chomp) unless @buffer.empty?
        @buffer = +""
        dispatched || dispatch
      end

      private

      def line(line)
        return dispatch if line.empty?
        return nil if line.start_with?(":")

        name, value = line.split(":", 2)
        value = value.to_s.delete_prefix(" ")
        case name
        when "event" then @event = value
        when "data" then @data << value
        when "id" then @last_id = value unless value.include?("\0")
        end
        nil
      end

      def dispatch
        return nil if @data.empty? && @event.empty?

        event = [@event.empty? ? "message" : @event, @data.join("\n"), @last_id]
        @event = +""
        @data = []
        event
      end
    end
  end
end
