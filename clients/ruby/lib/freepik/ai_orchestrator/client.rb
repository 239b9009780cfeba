# frozen_string_literal: true

require "fileutils"
require "json"
require "securerandom"
require "uri"

require_relative "clock"
require_relative "errors"
require_relative "image_input"
require_relative "models"
require_relative "page"
require_relative "retry_policy"
require_relative "sse"
require_relative "transport"
require_relative "version"

module Freepik
  module AiOrchestrator
    # Client for the Freepik AI Orchestrator API.
    #
    #   client = Freepik::AiOrchestrator::Client.new(base_url: "http://localhost:8000", api_key: "sk-test-...")
    #   response = client.generate(prompt: "A lighthouse at dusk", model: "dall-e-3")
    #   client.close
    #
    # Options:
    # base_url::      server URL; default $ORCHESTRATOR_BASE_URL or http://localhost:8000
    # api_key::       sk-test-... / sk-live-...; default $ORCHESTRATOR_API_KEY
    # bearer_token::  a JWT, sent instead of an API key
    # timeout::       seconds one call may take, retries included (default 600; nil: no limit)
    # max_retries::   retries after the first attempt (default 2; 0 turns retries off)
    # retry_backoff:: base of the exponential backoff in seconds (default 0.5)
    # default_headers:: headers added to every request
    # transport::     an object with #call(request) and #close instead of Net::HTTP (tests)
    # clock::         an object with #now, #monotonic, #sleep(seconds) and #rand (tests)
    class Client
      DEFAULT_BASE_URL = "http://localhost:8000"
      # One whole call, retries and the wait for a generation included: the slow models take
      # minutes, and the same 600 s in every SDK (clients/spec/conformance.json).
      DEFAULT_TIMEOUT = 600.0
      CONNECT_TIMEOUT = 10.0
      # How long #generate waits for a job the server handed back unfinished (202).
      DEFAULT_WAIT_TIMEOUT = 600.0
      # Longest silence between two Server-Sent Events (the server sends keep-alives within it).
      EVENTS_READ_TIMEOUT = 300.0
      API_PREFIX = "/api/v1"
      EXTENSIONS = {
        "image/png" => ".png", "image/jpeg" => ".jpg", "image/webp" => ".webp", "image/gif" => ".gif"
      }.freeze

      attr_reader :base_url, :timeout, :max_retries, :retry_backoff

      # Opens a client, yields it and closes it afterwards.
      def self.open(**options)
        client = new(**options)
        return client unless block_given?

        begin
          yield client
        ensure
          client.close
        end
      end

      def initialize(base_url: nil, api_key: nil, bearer_token: nil, timeout: DEFAULT_TIMEOUT,
                     max_retries: RetryPolicy::DEFAULT_MAX_RETRIES,
                     retry_backoff: RetryPolicy::DEFAULT_RETRY_BACKOFF, default_headers: {},
                     transport: nil, clock: nil)
        raise ArgumentError, "pass api_key or bearer_token, not both" if api_key && bearer_token

        api_key = presence(ENV.fetch("ORCHESTRATOR_API_KEY", nil)) if api_key.nil? && bearer_token.nil?
        if presence(api_key).nil? && presence(bearer_token).nil?
          raise Error.new("no credentials: pass api_key: or bearer_token:, or set ORCHESTRATOR_API_KEY",
                          code: "missing_credentials")
        end
        unless max_retries.is_a?(Integer) && max_retries >= 0
          raise ArgumentError, "max_retries must be an Integer >= 0 (0 turns retries off), not #{max_retries.inspect}"
        end
        unless retry_backoff.is_a?(Numeric) && retry_backoff.to_f.finite? && retry_backoff >= 0
          raise ArgumentError, "retry_backoff must be a number of seconds >= 0, not #{retry_backoff.inspect}"
        end

        @base_url = normalize_base_url(base_url || presence(ENV.fetch("ORCHESTRATOR_BASE_URL", nil)) || DEFAULT_BASE_URL)
        @token = presence(bearer_token) || api_key
        @timeout = coerce_timeout(timeout)
        @max_retries = max_retries
        @retry_backoff = retry_backoff.to_f
        @default_headers = default_headers.to_h { |k, v| [k.to_s, v.to_s] }.freeze
        @transport = transport || NetHttpTransport.new(@base_url)
        @clock = clock || SystemClock.new
      end

      # Closes the persistent connection (a new one opens if the client is used again).
      def close
        @transport.close
        nil
      end

      def inspect
        "#<#{self.class.name} base_url=#{@base_url.inspect} max_retries=#{@max_retries}>"
      end

      # ------------------------------------------------------------------ generations

      # Generates an image and returns the finished GenerationResponse.
      #
      # If the server hands the job back before it finishes (202), this waits for it (up to
      # +wait_timeout+ seconds). A failed generation raises the mapped error (e.g.
      # ProviderError, ContentPolicyError) with +generation_id+ set. With <tt>wait: false</tt>
      # the queued job is returned at once (see #submit).
      #
      # +cache+ is the result cache: +true+ serves a seeded request from an identical earlier
      # result (or shares an identical request in flight) at cost 0, <tt>"always"</tt> (or
      # <tt>:always</tt>) unseeded requests too, +false+ never; +nil+ (left out) the key's default.
      def generate(prompt:, model:, style: nil, size: nil, quality: nil, metadata: nil, n: nil, seed: nil,
                   negative_prompt: nil, cache: nil, idempotency_key: nil, timeout: nil, wait: true,
                   wait_timeout: DEFAULT_WAIT_TIMEOUT)
        body = compact_body(prompt:, model:, style:, size:, quality:, n:,
                            seed:, negative_prompt:, metadata:, cache: cache_option(cache))
        create_job("/generate", body, idempotency_key:, timeout:, wait:, wait_timeout:)
      end

      # Creates a generation job and returns it without waiting (+status+ is queued or
      # running). Follow it with #wait_for, #stream_events or #get_generation.
      def submit(prompt:, model:, style: nil, size: nil, quality: nil, metadata: nil, n: nil, seed: nil,
                 negative_prompt: nil, cache: nil, idempotency_key: nil, timeout: nil)
        generate(prompt:, model:, style:, size:, quality:, metadata:,
                 n:, seed:, negative_prompt:, cache:, idempotency_key:,
                 timeout:, wait: false)
      end

      # Fetches one generation (also a job's current status).
      def get_generation(generation_id, timeout: nil)
        parse(GenerationResponse, request(:get, "/generations/#{path_id(generation_id)}", timeout: timeout_for(timeout)))
      end

      # Polls a job until it succeeds, fails or is canceled, and returns it (without raising
      # for a failed job). Raises APITimeoutError after +timeout+ seconds (nil: no limit).
      def wait_for(generation_id, timeout: DEFAULT_WAIT_TIMEOUT, poll_interval: 0.5)
        deadline = timeout && (@clock.monotonic + timeout)
        polls = 0
        loop do
          generation = get_generation(generation_id)
          return generation if generation.terminal?

          @clock.sleep(poll_delay(polls, poll_interval, deadline, generation_id))
          polls += 1
        end
      end

      # Yields the job's events (queued, running with progress, then a terminal status) as
      # the server sends them, and returns after the terminal event. Without a block, returns
      # an Enumerator. A stream that ends early is reopened (up to +max_retries+ times).
      # +timeout+ is the longest silence between two events (default 300 s).
      def stream_events(generation_id, timeout: nil, &block)
        return enum_for(:stream_events, generation_id, timeout:) unless block

        headers = { "Accept" => "text/event-stream" }
        # A stream lasts as long as the job: no deadline for the call, only for the silence
        # between two events (the server sends keep-alives well within it).
        silence = timeout || [@timeout || 0, EVENTS_READ_TIMEOUT].max
        reconnects = 0
        loop do
          decoder = SSEDecoder.new
          finished = false
          handle = lambda do |sse|
            finished ||= emit_event(sse, &block)
          end
          begin
            request(:get, "/generations/#{path_id(generation_id)}/events", headers:, timeout: nil,
                                                                           read_timeout: silence) do |chunk|
              decoder.feed(chunk) { |sse| handle.call(sse) } unless finished
            end
            handle.call(decoder.flush) unless finished
          rescue APIConnectionError => e
            raise if finished || reconnects >= @max_retries

            dropped = e
          end
          return nil if finished

          headers["Last-Event-ID"] = decoder.last_id if decoder.last_id
          if reconnects >= @max_retries
            raise APIConnectionError.new(
              "the event stream of #{generation_id} ended before the job finished " \
              "(#{reconnects} reconnects); use wait_for to poll it instead", generation_id:
            ), cause: dropped
          end
          @clock.sleep(RetryPolicy.backoff_delay(reconnects, @retry_backoff, @clock.rand))
          reconnects += 1
        end
      end

      # Cancels a job that has not finished. Raises ConflictError if it already has.
      def cancel(generation_id, idempotency_key: nil, timeout: nil)
        response = request(:post, "/generations/#{path_id(generation_id)}/cancel", timeout: timeout_for(timeout),
                                                                                   idempotency_key:)
        parse(GenerationResponse, response)
      end

      # Generates one image per prompt (+batch_size+ at a time on the server) and returns a
      # BatchResult: one BatchItem per prompt, in order. Items the server hands back still
      # running are waited for (+wait_timeout+ seconds in all). With <tt>raise_on_error: true</tt>
      # the first failed item's error is raised instead.
      def generate_batch(prompts:, model:, batch_size: nil, style: nil, size: nil, quality: nil, metadata: nil,
                         n: nil, seed: nil, negative_prompt: nil, raise_on_error: false, idempotency_key: nil,
                         timeout: nil, wait_timeout: DEFAULT_WAIT_TIMEOUT)
        raise TypeError, "prompts must be an Array of Strings, not a single String" if prompts.is_a?(String)

        body = compact_body(prompts: prompts.to_a, model:, batch_size:, style:, size:,
                            quality:, n:, seed:, negative_prompt:, metadata:)
        response = request(:post, "/generate/batch", body:, timeout: timeout_for(timeout),
                                                     idempotency_key:)
        batch = parse(BatchResponse, response)
        items = resolve_pending(batch.data, wait_timeout)
        result = batch_result(batch, items)
        result.each(&:raise_for_error) if raise_on_error
        result
      end

      # Past generations, newest first, as a Page: +limit+ is the page size; #each walks every
      # later page lazily (Page#data is just this page). Filters: +filter_by_model+ (or
      # +model+), +status+, +since+ / +until+ (Time or ISO 8601 String), +metadata+ (a Hash,
      # sent as metadata.<key>=<value>), +query+ (prompt text), +cursor+.
      def get_generation_history(limit: nil, filter_by_model: nil, model: nil, status: nil, since: nil,
                                 until: nil, metadata: nil, query: nil, cursor: nil, timeout: nil)
        if filter_by_model && model && filter_by_model != model
          raise ArgumentError, "filter_by_model and model name the same filter; pass one of them"
        end

        until_value = binding.local_variable_get(:until)
        params = []
        params << ["limit", limit.to_s] unless limit.nil?
        params << ["model", (filter_by_model || model).to_s] unless (filter_by_model || model).nil?
        params << ["status", status.to_s] unless status.nil?
        params << ["since", time_param(since)] unless since.nil?
        params << ["until", time_param(until_value)] unless until_value.nil?
        params << ["q", query.to_s] unless query.nil?
        (metadata || {}).each { |key, value| params << ["metadata.#{key}", query_value(value)] }
        history_page(params.freeze, cursor, timeout_for(timeout))
      end

      # ------------------------------------------------------------------ image operations

      # Repaints images from a prompt (with a +mask+, only its transparent pixels) and returns
      # the finished GenerationResponse, like #generate.
      #
      # +images+ (one input or an Array of 1 to 16) and +mask+ are each a stored image id
      # (<tt>gen_…</tt>, or <tt>gen_…:N</tt> for a generation's N-th image), an http(s) URL, a
      # file path (String or Pathname), an IO (File, StringIO...) or an ImageFile (bytes). Ids
      # and URLs alone are sent as JSON; with any file the body is multipart/form-data.
      # +cache+, +idempotency_key+, +timeout+, +wait+ and +wait_timeout+ work as on #generate.
      def edit(prompt:, images:, mask: nil, model: nil, n: nil, size: nil, quality: nil, seed: nil, background: nil,
               output_format: nil, output_compression: nil, moderation: nil, metadata: nil, cache: nil,
               idempotency_key: nil, timeout: nil, wait: true, wait_timeout: DEFAULT_WAIT_TIMEOUT)
        require_prompt(prompt)
        list = images.is_a?(Array) ? images : [images]
        raise ArgumentError, "images: edit needs at least one image" if list.empty?

        inputs = list.each_with_index.map { |image, i| ["images", ImageInput.resolve(image, "images[#{i}]")] }
        inputs << ["mask", ImageInput.resolve(mask, "mask")] unless mask.nil?
        fields = compact_body(prompt:, model:, n:, size:, quality:, seed:, background:, output_format:,
                              output_compression:, moderation:, metadata:, cache: cache_option(cache))
        operate("/images/edits", fields, inputs, idempotency_key:, timeout:, wait:, wait_timeout:)
      end

      # More images like +image+ (no prompt); +image+ is any input #edit takes.
      def create_variation(image:, model: nil, n: nil, size: nil, seed: nil, metadata: nil, cache: nil,
                           idempotency_key: nil, timeout: nil, wait: true, wait_timeout: DEFAULT_WAIT_TIMEOUT)
        operate("/images/variations", compact_body(model:, n:, size:, seed:, metadata:, cache: cache_option(cache)),
                [["image", ImageInput.resolve(image, "image")]], idempotency_key:, timeout:, wait:, wait_timeout:)
      end

      # +image+ enlarged +factor+ times (one of the model's factors); +image+ is any input #edit takes.
      def upscale(image:, factor: nil, prompt: nil, model: nil, metadata: nil, cache: nil,
                  idempotency_key: nil, timeout: nil, wait: true, wait_timeout: DEFAULT_WAIT_TIMEOUT)
        operate("/images/upscale", compact_body(factor:, prompt:, model:, metadata:, cache: cache_option(cache)),
                [["image", ImageInput.resolve(image, "image")]], idempotency_key:, timeout:, wait:, wait_timeout:)
      end

      # The subject of +image+ on a transparent background (PNG); +image+ is any input #edit takes.
      def remove_background(image:, model: nil, metadata: nil, cache: nil,
                            idempotency_key: nil, timeout: nil, wait: true, wait_timeout: DEFAULT_WAIT_TIMEOUT)
        operate("/images/remove-background", compact_body(model:, metadata:, cache: cache_option(cache)),
                [["image", ImageInput.resolve(image, "image")]], idempotency_key:, timeout:, wait:, wait_timeout:)
      end

      # A new image from +prompt+, guided by +image+; +strength+ (0 to 1) says how far from it to
      # go. +image+ is any input #edit takes.
      def image_to_image(prompt:, image:, strength: nil, negative_prompt: nil, model: nil, n: nil, seed: nil,
                         metadata: nil, cache: nil, idempotency_key: nil, timeout: nil, wait: true,
                         wait_timeout: DEFAULT_WAIT_TIMEOUT)
        require_prompt(prompt)
        fields = compact_body(prompt:, strength:, negative_prompt:, model:, n:, seed:, metadata:,
                              cache: cache_option(cache))
        operate("/images/image-to-image", fields, [["image", ImageInput.resolve(image, "image")]],
                idempotency_key:, timeout:, wait:, wait_timeout:)
      end

      # ------------------------------------------------------------------ catalog and usage

      # Every model in the catalog (an Array of ModelInfo), with capabilities, pricing and
      # availability.
      def list_models(timeout: nil)
        parse(ModelList, request(:get, "/models", timeout: timeout_for(timeout))).data
      end

      # One model; raises ModelNotAvailableError for an unknown name.
      def get_model_info(name, timeout: nil)
        parse(ModelInfo, request(:get, "/models/#{path_id(name)}", timeout: timeout_for(timeout)))
      end

      # Usage and cost between two dates (inclusive; Date or "YYYY-MM-DD"), optionally grouped
      # by "model", "day", "key" or "metadata.<key>".
      def get_usage_stats(start_date:, end_date:, group_by: nil, timeout: nil)
        params = [["start_date", date_param(start_date, "start_date")], ["end_date", date_param(end_date, "end_date")]]
        params << ["group_by", group_by.to_s] unless group_by.nil?
        parse(UsageStats, request(:get, "/usage", params:, timeout: timeout_for(timeout)))
      end

      # ------------------------------------------------------------------ webhooks

      # Registers an endpoint (admin scope). The returned WebhookEndpoint's #secret
      # (<tt>whsec_…</tt>) is shown only here: keep it to verify deliveries
      # (Freepik::AiOrchestrator.verify_webhook). +events+: nil for every event.
      def create_webhook(url, events: nil, description: nil, idempotency_key: nil, timeout: nil)
        raise ArgumentError, "url must be the http(s) URL that receives the events" unless url.is_a?(String) && !url.empty?
        raise TypeError, "events must be an Array of event types" unless events.nil? || events.is_a?(Array)

        body = { "url" => url, "events" => events, "description" => description }.compact
        parse(WebhookEndpoint, request(:post, "/webhooks", body:, idempotency_key:,
                                                           timeout: timeout_for(timeout)))
      end

      # Every endpoint of the project (an Array of WebhookEndpoint, without secrets).
      def list_webhooks(timeout: nil)
        parse(WebhookEndpointList, request(:get, "/webhooks", timeout: timeout_for(timeout))).data
      end

      def get_webhook(webhook_id, timeout: nil)
        parse(WebhookEndpoint, request(:get, "/webhooks/#{path_id(webhook_id)}", timeout: timeout_for(timeout)))
      end

      # Changes +enabled+, +events+ or +description+ (pass <tt>description: nil</tt> to clear it).
      def update_webhook(webhook_id, enabled: nil, events: nil, description: :unchanged, timeout: nil)
        body = { "enabled" => enabled, "events" => events }.compact
        body["description"] = description unless description == :unchanged
        raise ArgumentError, "update_webhook needs enabled:, events: or description:" if body.empty?

        parse(WebhookEndpoint, request(:patch, "/webhooks/#{path_id(webhook_id)}", body:,
                                                                                   timeout: timeout_for(timeout)))
      end

      # Stops deliveries to the endpoint until #resume_webhook; events meanwhile are not sent.
      def pause_webhook(webhook_id, timeout: nil)
        update_webhook(webhook_id, enabled: false, timeout:)
      end

      def resume_webhook(webhook_id, timeout: nil)
        update_webhook(webhook_id, enabled: true, timeout:)
      end

      # Deletes the endpoint; returns it as it was.
      def delete_webhook(webhook_id, timeout: nil)
        parse(WebhookEndpoint, request(:delete, "/webhooks/#{path_id(webhook_id)}", timeout: timeout_for(timeout)))
      end

      # The endpoint's recent deliveries (an Array of WebhookDelivery, newest first).
      def list_webhook_deliveries(webhook_id, timeout: nil)
        path = "/webhooks/#{path_id(webhook_id)}/deliveries"
        parse(WebhookDeliveryList, request(:get, path, timeout: timeout_for(timeout))).data
      end

      # Sends a signed <tt>webhook.test</tt> event to the endpoint; returns its WebhookDelivery.
      def send_test_webhook(webhook_id, idempotency_key: nil, timeout: nil)
        parse(WebhookDelivery, request(:post, "/webhooks/#{path_id(webhook_id)}/test",
                                       idempotency_key:, timeout: timeout_for(timeout)))
      end

      # ------------------------------------------------------------------ downloads

      # Saves images into +directory+ (created if missing) and returns the paths written.
      #
      # +target+ is a GenerationResponse (every image, named <tt><id>-<index>.<ext></tt>), a
      # generation id (fetched first), an ImageInfo or an image URL (named after the URL).
      # <tt>thumbnail: true</tt> saves the thumbnails instead (<tt><id>-<index>-thumb.<ext></tt>).
      # An existing file is never replaced unless <tt>overwrite: true</tt>: DestinationExistsError is
      # raised before anything is downloaded.
      # <tt>image: i</tt> saves only a generation's image +i+, under the same name.
      def download(target, directory = ".", thumbnail: false, overwrite: false, image: nil, timeout: nil)
        jobs = download_jobs(target, thumbnail)
        jobs = [jobs.fetch(image) { raise ArgumentError, "no image #{image}: there are #{jobs.size}" }] unless image.nil?
        jobs = jobs.map do |url, stem, extension|
          [url, File.join(directory.to_s, stem), extension]
        end
        unless overwrite
          taken = jobs.map { |_, base, extension| extension && "#{base}#{extension}" }.compact.find { |path| File.exist?(path) }
          raise DestinationExistsError, taken if taken
        end
        FileUtils.mkdir_p(directory)
        call_timeout = timeout_for(timeout)
        jobs.map { |url, base, extension| download_one(url, base, extension, overwrite, call_timeout) }
      end

      private

      # ------------------------------------------------------------------ transport

      # Sends one logical call with retries and returns the successful Response. POSTs carry
      # one Idempotency-Key, the same on every attempt. +timeout+ bounds the whole call.
      def request(method, path, params: nil, body: nil, headers: {}, timeout: nil, idempotency_key: nil,
                  url: nil, authenticated: true, on_retry: nil, read_timeout: nil, &block)
        uri = url || URI("#{@base_url}#{API_PREFIX}#{path}")
        uri.query = URI.encode_www_form(params) if params && !params.empty?
        payload, content_type = encode_body(body)
        key = method == :post ? (idempotency_key || SecureRandom.uuid) : nil
        deadline = timeout && (@clock.monotonic + timeout)
        retries = 0
        loop do
          remaining = deadline && (deadline - @clock.monotonic)
          if remaining && remaining <= 0
            raise APITimeoutError, "request timed out: #{where(method, uri)} (#{timeout} s for the call)"
          end

          attempt = build_request(method, uri, [payload, content_type], headers, key, remaining, retries, authenticated)
          attempt.read_timeout = read_timeout if read_timeout
          begin
            response = @transport.call(attempt, &block)
          rescue *NetHttpTransport::TIMEOUT_ERRORS, *NetHttpTransport::CONNECTION_ERRORS => e
            decision = decide(retries, nil, nil)
            raise connection_error(e, method, uri) unless decision.retry? && fits?(deadline, decision.delay)
          else
            return response if response.success?

            decision = decide(retries, response, decode(response.body))
            raise status_error(response) unless decision.retry? && fits?(deadline, decision.delay)
          end
          @clock.sleep(decision.delay)
          on_retry&.call
          retries += 1
        end
      end

      # [bytes, Content-Type] of a request body: a Hash as JSON, a multipart body as it is.
      def encode_body(body)
        case body
        when nil then [nil, nil]
        when ImageInput::MultipartBody then [body.body, body.content_type]
        else [JSON.generate(body), "application/json"]
        end
      end

      def build_request(method, uri, (payload, content_type), extra_headers, key, remaining, retries, authenticated)
        headers = {
          "Accept" => "application/json",
          "User-Agent" => "freepik-ai-orchestrator-ruby/#{VERSION} ruby/#{RUBY_VERSION}",
          # Observability: which attempt this is, and how long the client will wait for it.
          "X-Request-Attempt" => (retries + 1).to_s
        }
        headers["X-Client-Timeout"] = format("%g", remaining.round(3)) if remaining
        headers["Authorization"] = "Bearer #{@token}" if authenticated
        headers["Idempotency-Key"] = key if key
        headers["Content-Type"] = content_type if payload
        headers.merge!(@default_headers).merge!(extra_headers)
        Request.new(method: method.to_s.upcase, url: uri, headers:, body: payload,
                    open_timeout: remaining ? [remaining, CONNECT_TIMEOUT].min : CONNECT_TIMEOUT,
                    read_timeout: remaining)
      end

      def decide(retries, response, body)
        RetryPolicy.decide(
          retries_so_far: retries, max_retries: @max_retries, retry_backoff: @retry_backoff,
          status: response&.status, headers: response ? response.headers : {}, now: @clock.now,
          random_value: @clock.rand, body:
        )
      end

      # Whether a retry after +delay+ seconds still starts before the call's deadline.
      def fits?(deadline, delay)
        deadline.nil? || @clock.monotonic + delay < deadline
      end

      def status_error(response)
        body = decode(response.body)
        Errors.build(response.status, body, response.headers,
                     retry_after: RetryPolicy.parse_retry_after(response.headers, @clock.now),
                     text: body.nil? ? response.body.to_s : nil)
      end

      def connection_error(error, method, uri)
        if NetHttpTransport::TIMEOUT_ERRORS.any? { |klass| error.is_a?(klass) }
          APITimeoutError.new("request timed out: #{where(method, uri)} (#{error.class})")
        else
          APIConnectionError.new("connection error: #{where(method, uri)}: #{error.message} (#{error.class})")
        end
      end

      # The request for an error message, without the query (signed URLs carry a signature).
      def where(method, uri)
        "#{method.upcase} #{uri.scheme}://#{uri.host}:#{uri.port}#{uri.path}"
      end

      def decode(text)
        return nil if text.nil? || text.empty?

        JSON.parse(text)
      rescue JSON::ParserError
        nil
      end

      def parse(klass, response)
        replayed = response.headers["idempotent-replayed"].to_s.casecmp?("true")
        klass.from_hash(JSON.parse(response.body.to_s), request_id: response.headers["x-request-id"],
                                                        idempotent_replayed: replayed)
      rescue JSON::ParserError, ArgumentError => e
        raise Error.new("unexpected response body for #{klass.name}: #{e.message}",
                        status: response.status, request_id: response.headers["x-request-id"],
                        headers: response.headers)
      end

      # ------------------------------------------------------------------ helpers

      # POSTs a job (a generation or an image operation) and, unless +wait+ is false, waits
      # for it. +body+ is a Hash (sent as JSON) or an ImageInput::MultipartBody.
      def create_job(path, body, idempotency_key:, timeout:, wait:, wait_timeout:)
        call_timeout = timeout_for(timeout)
        headers = {}
        if !wait
          headers["Prefer"] = "respond-async"
        elsif call_timeout
          # RFC 7240: ask the server to hand back the job (202) before our timeout fires,
          # rather than have the connection cut and the call retried.
          headers["Prefer"] = "wait=#{[1, call_timeout.floor - 1].max}"
        end
        response = request(:post, path, body:, headers:, timeout: call_timeout, idempotency_key:)
        generation = parse(GenerationResponse, response)
        return generation unless wait

        generation = wait_for(generation.id, timeout: wait_timeout) unless generation.terminal?
        finished(generation)
      end

      # An image operation: JSON when every input is an id or URL, else multipart (files, with
      # ids and URLs as text parts beside them, and the other fields as text).
      def operate(path, fields, inputs, **job)
        body = if inputs.none? { |_, value| value.is_a?(ImageInput::UploadPart) }
                 inputs.each_with_object(fields.dup) do |(name, value), json|
                   name == "images" ? (json["images"] ||= []) << value : json[name] = value
                 end
               else
                 ImageInput.multipart(fields.to_a + inputs)
               end
        create_job(path, body, **job)
      end

      # The +cache+ option checked before anything is sent: true, false, "always" (or :always), or
      # nil (left out: the key's default).
      def cache_option(cache)
        return cache if cache.nil? || cache == true || cache == false
        return "always" if cache.to_s == "always" && (cache.is_a?(String) || cache.is_a?(Symbol))

        raise ArgumentError, "cache: must be true, false or \"always\", not #{cache.inspect}"
      end

      def require_prompt(prompt)
        raise ArgumentError, "prompt: must be a String, not #{prompt.class}" unless prompt.is_a?(String)
        raise ArgumentError, "prompt: must not be blank" if prompt.strip.empty?
      end

      def history_page(params, cursor, timeout)
        page_params = params + (cursor.nil? ? [] : [["cursor", cursor.to_s]])
        response = request(:get, "/generations", params: page_params, timeout:)
        listing = parse(GenerationList, response)
        Page.new(data: listing.data, has_more: listing.has_more, next_cursor: listing.next_cursor, cursor:,
                 request_id: listing.request_id, fetch: ->(next_cursor) { history_page(params, next_cursor, timeout) })
      end

      # Calls the block with each generation event; returns true after the terminal one.
      def emit_event(sse)
        return false if sse.nil?

        name, data, id = sse
        return false if data.nil? || data.empty?

        payload = JSON.parse(data)
        raise Errors.build(nil, payload) if payload.is_a?(Hash) && payload["error"].is_a?(Hash) && !payload.key?("id")

        generation = GenerationResponse.from_hash(payload)
        event = GenerationEvent.new(event: name, data: generation, id:).freeze
        yield event
        event.terminal?
      rescue JSON::ParserError, ArgumentError
        false # not a generation (a ping or an event this version does not know)
      end

      def finished(generation)
        return generation if generation.succeeded?

        raise Errors.build(nil, { "error" => failure(generation) })
      end

      # The error object the synchronous endpoint would answer for a failed or canceled job.
      def failure(generation)
        error = if generation.status == "canceled"
                  { "type" => "invalid_request_error", "code" => "generation_canceled",
                    "message" => "generation #{generation.id} was canceled" }
                else
                  (generation.error&.to_h || {}).compact.transform_keys(&:to_s)
                end
        error["message"] ||= "generation #{generation.id} #{generation.status}"
        error["generation_id"] ||= generation.id
        error["request_id"] ||= generation.request_id
        error.compact
      end

      # The batch's items with those still running replaced by their finished jobs.
      def resolve_pending(items, wait_timeout)
        deadline = wait_timeout && (@clock.monotonic + wait_timeout)
        items.map do |item|
          job = item.generation
          next item if job.nil? || job.terminal?

          remaining = deadline && [deadline - @clock.monotonic, 0.0].max
          resolved_item(item, wait_for(job.id, timeout: remaining))
        end
      end

      def resolved_item(item, job)
        error = job.succeeded? ? nil : BatchError.from_hash(failure(job))
        BatchItem.new(index: item.index, prompt: item.prompt, status: job.succeeded? ? "succeeded" : "failed",
                      generation: job, error:, extra: item.extra).freeze
      end

      def batch_result(batch, items)
        if items.each_with_index.all? { |item, index| item.equal?(batch.data[index]) }
          succeeded = batch.succeeded
          failed = batch.failed
          total_cost = batch.total_cost
        else # totals recomputed after waiting for pending items
          costs = items.select(&:ok?).map { |item| item.generation.cost }
          succeeded = items.count(&:ok?)
          failed = items.size - succeeded
          total_cost = costs.any?(&:nil?) ? nil : costs.sum.round(6)
        end
        BatchResult.new(id: batch.id, items:, succeeded:, failed:, total_cost:,
                        request_id: batch.request_id)
      end

      def poll_delay(polls, poll_interval, deadline, generation_id)
        delay = [poll_interval * (1.5**polls), poll_interval * 4].min
        return delay if deadline.nil?

        remaining = deadline - @clock.monotonic
        if remaining <= 0
          raise APITimeoutError.new(
            "generation #{generation_id} did not finish in time; it keeps running on the server " \
            "(wait_for it again, or cancel it)", generation_id:
          )
        end
        [delay, remaining].min
      end

      # [url, file name without extension, extension (nil: from the answer's Content-Type)]
      def download_jobs(target, thumbnail)
        target = get_generation(target) if target.is_a?(String) && !target.match?(%r{\A(https?://|/)}i)
        case target
        when GenerationResponse then generation_downloads(target, thumbnail)
        when ImageInfo
          url = thumbnail ? target.thumbnail_url : target.url
          raise ArgumentError, "this image has no #{thumbnail ? "thumbnail" : "URL"}" if url.nil?

          [[url, url_stem(url), known_extension(thumbnail ? nil : target.content_type, url)]]
        when String then [[target, url_stem(target), known_extension(nil, target)]]
        else raise TypeError, "download takes a GenerationResponse, ImageInfo, generation id or URL, not #{target.class}"
        end
      end

      def generation_downloads(generation, thumbnail)
        images = generation.images.map { |image| [thumbnail ? image.thumbnail_url : image.url, image.content_type] }
        images = [[thumbnail ? generation.thumbnail_url : generation.image_url, nil]] if images.empty?
        if images.any? { |url, _| url.nil? }
          raise ArgumentError, "generation #{generation.id} has no #{thumbnail ? "thumbnail" : "image"} " \
                               "(status: #{generation.status})"
        end
        images.each_with_index.map do |(url, content_type), index|
          [url, "#{generation.id}-#{index}#{"-thumb" if thumbnail}", known_extension(thumbnail ? nil : content_type, url)]
        end
      end

      def known_extension(content_type, url)
        from_type = EXTENSIONS[content_type.to_s.split(";").first.to_s.strip.downcase]
        return from_type if from_type

        extension = File.extname(URI(absolute_url(url)).path)
        extension.empty? ? nil : extension
      end

      # The last path segment, percent-decoded (never a path separator or "..").
      def url_stem(url)
        name = File.basename(URI(absolute_url(url)).path)
        name = "" if name == "/"
        name = name.gsub(/%\h\h/) { |escape| escape[1..].hex.chr }.force_encoding(Encoding::UTF_8).scrub("_")
        name = name.tr("/\\", "__")
        name = "image" if name.empty? || name.match?(/\A\.+\z/)
        name.delete_suffix(File.extname(name))
      end

      def download_one(url, base, extension, overwrite, timeout)
        uri = URI(absolute_url(url))
        partial = "#{base}.#{SecureRandom.hex(4)}.part"
        response = nil
        File.open(partial, "wb") do |file|
          restart = -> { file.rewind && file.truncate(0) } # a retry starts the file again
          response = request(:get, nil, url: uri, timeout:, authenticated: same_origin?(uri),
                                        on_retry: restart) { |chunk| file.write(chunk) }
        end
        extension ||= known_extension(response.headers["content-type"], url) || ""
        destination = "#{base}#{extension}"
        raise DestinationExistsError, destination if !overwrite && File.exist?(destination)

        File.rename(partial, destination) # never leave a truncated file under the final name
        destination
      ensure
        File.delete(partial) if partial && File.exist?(partial)
      end

      def absolute_url(url)
        url.match?(%r{\Ahttps?://}i) ? url : "#{@base_url}/#{url.delete_prefix("/")}"
      end

      # Signed URLs need no credentials; never hand our key to another host (a CDN, S3).
      def same_origin?(uri)
        base = URI(@base_url)
        [uri.scheme, uri.host, uri.port] == [base.scheme, base.host, base.port]
      end

      def normalize_base_url(url)
        url = url.to_s.strip.delete_suffix("/")
        url = url.delete_suffix(API_PREFIX) # tolerate a base URL that already names the API version
        uri = URI.parse(url)
        raise ArgumentError, "base_url must be an absolute http(s) URL, not #{url.inspect}" unless
          %w[http https].include?(uri.scheme) && uri.host && !uri.host.empty?

        url
      rescue URI::InvalidURIError
        raise ArgumentError, "base_url must be an absolute http(s) URL, not #{url.inspect}"
      end

      def coerce_timeout(value)
        return nil if value.nil?
        unless value.is_a?(Numeric) && value.positive?
          raise ArgumentError, "timeout must be a positive number of seconds or nil, not #{value.inspect}"
        end

        value.to_f
      end

      def timeout_for(value)
        value.nil? ? @timeout : coerce_timeout(value)
      end

      def compact_body(**fields)
        fields.compact.transform_keys(&:to_s)
      end

      def path_id(value)
        text = value.to_s
        raise ArgumentError, "an id or name is required" if text.empty?

        text.b.gsub(/[^A-Za-z0-9\-._~]/n) { |c| format("%%%02X", c.ord) }
      end

      def time_param(value)
        value.respond_to?(:iso8601) ? value.iso8601 : value.to_s
      end

      def date_param(value, name)
        return value.strftime("%Y-%m-%d") if value.respond_to?(:strftime)
        return value if value.is_a?(String)

        raise TypeError, "#{name} must be a String (YYYY-MM-DD), a Date or a Time, not #{value.class}"
      end

      def query_value(value)
        case value
        when true, false, String, Numeric then value.to_s
        else JSON.generate(value)
        end
      end

      def presence(value)
        value.nil? || value.to_s.strip.empty? ? nil : value
      end
    end

    # The name the architecture documents use for the client.
    OrchestrationClient = Client
  end
end
