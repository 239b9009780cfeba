# frozen_string_literal: true

require "net/http"
require "openssl"
require "uri"

module Freepik
  module AiOrchestrator
    # One HTTP request as the client builds it. +url+ is a URI; +headers+ a Hash;
    # +body+ a String or nil; timeouts in seconds (nil: no limit).
    Request = Struct.new(:method, :url, :headers, :body, :open_timeout, :read_timeout, keyword_init: true)

    # One HTTP answer: +headers+ has lower-case names; +body+ is nil when it was streamed to
    # the caller's block.
    Response = Struct.new(:status, :headers, :body, keyword_init: true) do
      def success?
        status >= 200 && status < 300
      end
    end

    # Sends requests with Net::HTTP over one persistent (keep-alive) connection to the
    # orchestrator. Streamed requests (event streams, downloads) and requests to another origin
    # (a signed storage URL) use a connection of their own, so the client stays usable while a
    # stream is open. Thread-safe: one request at a time on the shared connection.
    #
    # Any object with #call(request) { |chunk| } -> Response and #close can replace it (see the
    # +transport:+ option of Client), e.g. to test your code without a server.
    class NetHttpTransport
      # Errors meaning "no HTTP answer" (mapped to APIConnectionError / APITimeoutError).
      CONNECTION_ERRORS = [
        IOError, EOFError, SocketError, SystemCallError, OpenSSL::SSL::SSLError,
        Net::HTTPBadResponse, Net::ProtocolError
      ].freeze
      TIMEOUT_ERRORS = [Net::OpenTimeout, Net::ReadTimeout, Net::WriteTimeout].freeze

      def initialize(origin)
        @origin = URI(origin)
        @lock = Mutex.new
        @http = nil
      end

      # Sends +request+. Without a block the body is read into Response#body; with a block a
      # successful (2xx) body is yielded in chunks instead.
      def call(request, &block)
        if same_origin?(request.url) && block.nil?
          @lock.synchronize { send_on(persistent, request, &block) }
        else
          http = connection(request.url)
          begin
            send_on(http, request, &block)
          ensure
            http.finish if http.started?
          end
        end
      end

      def close
        @lock.synchronize do
          @http.finish if @http&.started?
          @http = nil
        end
      end

      private

      def same_origin?(url)
        url.scheme == @origin.scheme && url.host == @origin.host && url.port == @origin.port
      end

      def persistent
        @http ||= connection(@origin)
      end

      def connection(uri)
        http = Net::HTTP.new(uri.host, uri.port)
        http.use_ssl = uri.scheme == "https"
        http.max_retries = 0 # the client decides retries, with its idempotency key
        # Reconnect after 2 s idle (Net::HTTP's default), well before servers drop idle
        # connections (uvicorn: 5 s), so a reused connection is not found closed mid-request.
        http.keep_alive_timeout = 2
        http
      end

      def send_on(http, request, &)
        http.open_timeout = request.open_timeout
        http.read_timeout = request.read_timeout
        http.write_timeout = request.read_timeout
        http.start unless http.started?
        perform(http, request, &)
      rescue *TIMEOUT_ERRORS, *CONNECTION_ERRORS
        # A half-used connection cannot be trusted for the next request.
        http.finish if http.started?
        raise
      end

      def perform(http, request, &block)
        net_request = build(request)
        answer = nil
        http.request(net_request) do |res|
          status = res.code.to_i
          headers = {}
          res.each_header { |name, value| headers[name.downcase] = value }
          if block && status >= 200 && status < 300
            res.read_body(&block)
            answer = Response.new(status:, headers:, body: nil)
          else
            answer = Response.new(status:, headers:, body: res.read_body.to_s)
          end
        end
        answer
      end

      def build(request)
        klass = Net::HTTP.const_get(request.method.capitalize)
        net_request = klass.new(request.url.request_uri, request.headers)
        if !request.body.nil?
          net_request.body = request.body
        elsif net_request.request_body_permitted?
          # A POST without a body (cancel): an explicit empty JSON request, rather than
          # Net::HTTP's default of an empty form with a warning.
          net_request.body = ""
          net_request["Content-Type"] ||= "application/json"
        end
        net_request
      end
    end
  end
end
