# frozen_string_literal: true

require_relative "model"
require_relative "errors"

module Freepik
  module AiOrchestrator
    # Job statuses after which nothing changes any more.
    TERMINAL_STATUSES = %w[succeeded failed canceled].freeze

    # One image of a generation. URLs are absolute, signed and usable without credentials.
    ImageInfo = Struct.new(:url, :thumbnail_url, :width, :height, :content_type, :extra, keyword_init: true) do
      include Model
      required :url
    end

    # Why a generation failed (GenerationResponse#error).
    GenerationError = Struct.new(:code, :message, :extra, keyword_init: true) do
      include Model
    end

    # One provider route that failed before the one that answered (GenerationResponse#failed_attempts).
    FailedAttempt = Struct.new(:provider, :model, :code, :message, :extra, keyword_init: true) do
      include Model
    end

    # An input image of an image operation (GenerationResponse#sources): #role is "image" or
    # "mask"; #origin is "upload", "url", or "generation" (then #generation_id and #index name
    # the image it was). #url is the stored input, signed and expiring like output URLs.
    SourceImage = Struct.new(:role, :origin, :generation_id, :index, :url, :width, :height, :content_type, :extra,
                             keyword_init: true) do
      include Model
      required :role, :origin, :url
    end

    # A generation, which is also a job: #status is queued, running, succeeded, failed or
    # canceled. #image_url is the first image; #images lists all of them. #cost is in USD (see
    # #currency) and nil when the price is unknown, never a made-up 0. #processing_time is in
    # seconds; #created_at, #started_at and #finished_at are Time objects. #operation is
    # "generate" or the image operation that made it (edit, variation, upscale,
    # remove_background, image_to_image); #sources are its input images, #parents the
    # generations they came from, and #children (from #get_generation only, else nil) the jobs
    # that took this one's images as input. #cached is true when the result cache (or an
    # identical request in flight) served it at cost 0, with the images of #cached_from.
    GenerationResponse = Struct.new(
      :id, :object, :status, :image_url, :thumbnail_url, :images, :prompt, :model, :style, :size,
      :quality, :n, :seed, :negative_prompt, :metadata, :provider, :livemode, :cost, :currency,
      :price_version, :progress, :processing_time, :revised_prompt, :batch_id, :error,
      :failed_attempts, :created_at, :started_at, :finished_at, :operation, :operation_params,
      :sources, :parents, :children, :cached, :cached_from, :extra,
      keyword_init: true
    ) do
      include Model
      required :id, :status, :prompt, :model
      defaults object: "generation", images: [], metadata: {}, failed_attempts: [], operation: "generate",
               operation_params: {}, sources: [], parents: [], cached: false
      types images: [ImageInfo], error: GenerationError, failed_attempts: [FailedAttempt], cost: :float, progress: :float,
            processing_time: :float, created_at: :time, started_at: :time, finished_at: :time, sources: [SourceImage]

      # True once the job has succeeded, failed or been canceled.
      def terminal?
        TERMINAL_STATUSES.include?(status)
      end

      def succeeded?
        status == "succeeded"
      end
    end

    # One page of GET /api/v1/generations (Page wraps it for iteration).
    GenerationList = Struct.new(:object, :data, :has_more, :next_cursor, :extra, keyword_init: true) do
      include Model
      defaults object: "list", data: [], has_more: false
      types data: [GenerationResponse]
    end

    # One image operation a catalog model offers (ModelInfo#operations): its limits and prices.
    # #pricing is USD per result by output size (upscale: by factor, e.g. "2x"), then quality
    # ("*" matches any); #factors (upscale) and #strength (image_to_image, [low, high]) are nil
    # for the other operations.
    OperationInfo = Struct.new(
      :max_input_images, :mask, :prompt, :max_images, :price, :pricing, :providers, :factors,
      :strength, :default_strength, :extra,
      keyword_init: true
    ) do
      include Model
      defaults max_input_images: 1, mask: false, prompt: false, max_images: 1, pricing: {}, providers: []
      types price: :float, default_strength: :float
    end

    # A catalog model: what it accepts, what it costs, and whether it can run now.
    # #text_to_image is false for models that only transform images; #operations maps each
    # image operation it offers (edit, variation, upscale, remove_background, image_to_image) to
    # an OperationInfo.
    ModelInfo = Struct.new(
      :name, :description, :max_resolution, :supported_styles, :supported_sizes,
      :supported_qualities, :default_size, :default_quality, :default_style, :pricing_per_image,
      :pricing, :currency, :average_time, :max_images, :supports_seed, :supports_negative_prompt,
      :providers, :available, :unavailable_reason, :notes, :text_to_image, :operations, :extra,
      keyword_init: true
    ) do
      include Model
      required :name
      defaults description: "", supported_styles: [], supported_sizes: [], supported_qualities: [],
               pricing: {}, providers: [], available: true, text_to_image: true, operations: {}
      types pricing_per_image: :float, average_time: :float, operations: { String => OperationInfo }

      def available?
        available == true
      end
    end

    # GET /api/v1/models.
    ModelList = Struct.new(:object, :data, :extra, keyword_init: true) do
      include Model
      defaults object: "list", data: []
      types data: [ModelInfo]
    end

    # Usage for one group (a model, a day, a key, a provider, an operation, cached or not, or a
    # metadata value). #generations counts every status; #images and #cost count succeeded jobs;
    # #name is the key's name for group_by "key"; #active is still queued or running; #cached
    # counts results served from the result cache and #cache_savings what they cost their sources.
    UsageBucket = Struct.new(:key, :name, :generations, :succeeded, :failed, :canceled, :active, :images, :cost,
                             :cached, :cache_savings, :extra, keyword_init: true) do
      include Model
      required :key
      defaults generations: 0, succeeded: 0, failed: 0, canceled: 0, active: 0, images: 0, cost: 0.0,
               cached: 0, cache_savings: 0.0
      types cost: :float, cache_savings: :float
    end

    # This month's spend against a budget: the calling key's own (#scope "key") or that of the
    # pool it draws from ("pool"). USD; #reserved is held by queued or running jobs;
    # #period_start is a Date.
    BudgetStatus = Struct.new(:scope, :key_id, :monthly_budget, :spent, :reserved, :remaining, :period_start, :extra,
                              keyword_init: true) do
      include Model
      required :scope, :key_id
      defaults spent: 0.0, reserved: 0.0, remaining: 0.0
      types monthly_budget: :float, spent: :float, reserved: :float, remaining: :float, period_start: :date
    end

    # Totals for a date range (both ends inclusive); #start_date and #end_date are Dates.
    # #active_generations are still queued or running; #storage_bytes is what the range's
    # generations store (images and inputs); #cached_generations shared another's result at $0
    # (part of #succeeded_generations) and #cache_savings is what those results cost their
    # sources; #budget lists this month's BudgetStatus of the calling key and its pool, where set.
    UsageStats = Struct.new(
      :object, :start_date, :end_date, :livemode, :total_generations, :succeeded_generations,
      :total_images, :total_cost, :failed_generations, :canceled_generations, :active_generations,
      :unpriced_generations, :storage_bytes, :cached_generations, :cache_savings, :currency, :by_model,
      :by_day, :group_by, :groups, :budget, :extra,
      keyword_init: true
    ) do
      include Model
      required :start_date, :end_date
      defaults object: "usage", total_generations: 0, succeeded_generations: 0, total_images: 0, total_cost: 0.0,
               failed_generations: 0, canceled_generations: 0, active_generations: 0, unpriced_generations: 0,
               storage_bytes: 0, cached_generations: 0, cache_savings: 0.0, by_model: [], by_day: [], budget: []
      types start_date: :date, end_date: :date, total_cost: :float, cache_savings: :float, by_model: [UsageBucket],
            by_day: [UsageBucket], groups: [UsageBucket], budget: [BudgetStatus]
    end

    # The error object of a failed batch item (the same fields as the error envelope).
    BatchError = Struct.new(:type, :code, :message, :param, :request_id, :generation_id, :extra,
                            keyword_init: true) do
      include Model
    end

    # The outcome for one prompt of a batch: #generation when it succeeded, else #error (a
    # failed item may also carry its failed #generation).
    BatchItem = Struct.new(:index, :prompt, :status, :generation, :error, :extra, keyword_init: true) do
      include Model
      required :index, :prompt, :status
      types generation: GenerationResponse, error: BatchError

      def ok?
        status == "succeeded" && !generation.nil?
      end

      # The generation's first image URL, or nil when this item failed.
      def image_url
        generation&.image_url
      end

      # The error this item maps to (what the single-generation call would raise), or nil.
      def exception
        return nil if ok?

        fields = error.nil? ? { "message" => "batch item failed" } : error.to_h.compact.transform_keys(&:to_s)
        Errors.build(nil, { "error" => fields })
      end

      # The generation, or raises the item's mapped error.
      def raise_for_error
        failure = exception
        raise failure unless failure.nil?

        generation
      end
    end

    # The raw body of POST /api/v1/generate/batch.
    BatchResponse = Struct.new(:object, :id, :data, :succeeded, :failed, :total_cost, :extra,
                               keyword_init: true) do
      include Model
      required :id
      defaults object: "batch", data: [], succeeded: 0, failed: 0
      types data: [BatchItem], total_cost: :float
    end

    # What #generate_batch returns: one BatchItem per prompt, in order. It is Enumerable and
    # indexable like the Array of items it wraps; the batch-level figures are attributes.
    class BatchResult
      include Enumerable

      attr_reader :id, :items, :succeeded, :failed, :total_cost, :request_id

      def initialize(id:, items:, succeeded:, failed:, total_cost:, request_id: nil)
        @id = id
        @items = items.dup.freeze
        @succeeded = succeeded
        @failed = failed
        @total_cost = total_cost
        @request_id = request_id
        freeze
      end

      def each(&block)
        return enum_for(:each) { size } unless block

        @items.each(&block)
        self
      end

      def [](index)
        @items[index]
      end

      def size
        @items.size
      end
      alias length size

      def to_a
        @items.dup
      end

      # The successful generations, in prompt order.
      def generations
        @items.select(&:ok?).map(&:generation)
      end

      # The items that failed.
      def errors
        @items.reject(&:ok?)
      end

      def inspect
        "#<#{self.class.name} id=#{id} items=#{size} succeeded=#{succeeded} failed=#{failed}>"
      end
    end

    # One Server-Sent Event of GET /api/v1/generations/{id}/events.
    GenerationEvent = Struct.new(:event, :data, :id, keyword_init: true) do
      def status
        data.status
      end

      def terminal?
        data.terminal?
      end
    end

    # A webhook endpoint: where the server POSTs signed events. #status is enabled, paused or
    # disabled (see #disabled_reason).
    WebhookEndpoint = Struct.new(
      :id, :object, :url, :events, :description, :status, :disabled_reason, :livemode, :created_at,
      :secret, :extra, keyword_init: true
    ) do
      include Model
      required :id, :url
      defaults object: "webhook_endpoint", events: []
      types created_at: :time

      # never print the secret
      def inspect
        "#<#{self.class.name} id=#{id} url=#{url} status=#{status}>"
      end
    end

    # The endpoints of GET /api/v1/webhooks.
    WebhookEndpointList = Struct.new(:object, :data, :extra, keyword_init: true) do
      include Model
      defaults object: "list", data: []
      types data: [WebhookEndpoint]
    end

    # One event sent (or being sent) to an endpoint; #id is the +webhook-id+ header.
    WebhookDelivery = Struct.new(
      :id, :object, :event_type, :status, :attempts, :last_status_code, :last_error, :created_at,
      :last_attempt_at, :next_attempt_at, :delivered_at, :extra, keyword_init: true
    ) do
      include Model
      required :id
      defaults object: "webhook_delivery"
      types created_at: :time, last_attempt_at: :time, next_attempt_at: :time, delivered_at: :time
    end

    # The deliveries of GET /api/v1/webhooks/{id}/deliveries, newest first.
    WebhookDeliveryList = Struct.new(:object, :data, :extra, keyword_init: true) do
      include Model
      defaults object: "list", data: []
      types data: [WebhookDelivery]
    end
  end
end
