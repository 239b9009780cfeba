# frozen_string_literal: true

require_relative "../test_helper"

# Fails when the server adds, renames or drops a field this gem models, or an operation, so the
# gem is updated with the server (openapi.json is generated from the app and committed).
class TestOpenapiDrift < Minitest::Test
  AI = Freepik::AiOrchestrator
  API = JSON.parse(File.read(File.expand_path("../../openapi.json", TestSupport::ROOT)))
  SCHEMAS = API.fetch("components").fetch("schemas")

  # openapi.json schema => the Struct that reads it.
  MODELLED = {
    "GenerationResponse" => AI::GenerationResponse, "ImageOut" => AI::ImageInfo, "ErrorInfo" => AI::GenerationError,
    "FailedAttempt" => AI::FailedAttempt, "GenerationPage" => AI::GenerationList, "ModelInfo" => AI::ModelInfo,
    "ModelList" => AI::ModelList, "UsageBucket" => AI::UsageBucket, "UsageStats" => AI::UsageStats,
    "BatchItem" => AI::BatchItem, "BatchResponse" => AI::BatchResponse, "WebhookCreated" => AI::WebhookEndpoint,
    "WebhookList" => AI::WebhookEndpointList, "DeliveryOut" => AI::WebhookDelivery,
    "DeliveryList" => AI::WebhookDeliveryList, "SourceOut" => AI::SourceImage,
    "BudgetStatus" => AI::BudgetStatus, "OperationInfo" => AI::OperationInfo
  }.freeze
  # Fields the server sends that a Struct keeps in `extra` for now (none).
  LEFT_OUT = {}.freeze
  # Read by a Struct that has one more member than the schema (the secret of WebhookCreated).
  SUBSET = { "WebhookOut" => [AI::WebhookEndpoint, %w[secret]] }.freeze
  # Request bodies: the keyword arguments of the method that sends them.
  REQUESTS = {
    "GenerateRequest" => [:generate, %w[prompt model style size quality metadata n seed negative_prompt cache]],
    "BatchRequest" => [:generate_batch, %w[prompts model batch_size style size quality metadata n seed negative_prompt]],
    "WebhookCreate" => [:create_webhook, %w[url events description]],
    "WebhookUpdate" => [:update_webhook, %w[enabled events description]]
  }.freeze
  NOT_MODELLED = %w[
    ErrorBody ErrorCode ErrorEnvelope ErrorType HTTPValidationError ValidationError Readiness
    ImageGenerationRequest ImageData ImagesResponse OpenAIModel OpenAIModelList
    KeyCreate KeyCreated KeyDefaults KeyList KeyOut
    GalleryItem GalleryPage Deleted BoardName BoardOut BoardList GenerationIds
  ].freeze

  OPERATIONS = {
    "generate" => :generate, "generateBatch" => :generate_batch, "listGenerations" => :get_generation_history,
    "getGeneration" => :get_generation, "cancelGeneration" => :cancel, "streamGenerationEvents" => :stream_events,
    "getImage" => :download, "listModels" => :list_models, "getModel" => :get_model_info, "getUsage" => :get_usage_stats,
    "listWebhooks" => :list_webhooks, "createWebhook" => :create_webhook, "getWebhook" => :get_webhook,
    "updateWebhook" => :update_webhook, "deleteWebhook" => :delete_webhook,
    "listWebhookDeliveries" => :list_webhook_deliveries, "testWebhook" => :send_test_webhook,
    "editImage" => :edit, "createImageVariation" => :create_variation, "upscaleImage" => :upscale,
    "removeImageBackground" => :remove_background, "imageToImage" => :image_to_image
  }.freeze
  # Image operations (bodies inline in openapi.json): the keyword arguments that are body fields.
  OPERATION_BODIES = {
    "/api/v1/images/edits" => :edit, "/api/v1/images/variations" => :create_variation,
    "/api/v1/images/upscale" => :upscale, "/api/v1/images/remove-background" => :remove_background,
    "/api/v1/images/image-to-image" => :image_to_image
  }.freeze
  CALL_KEYWORDS = %w[idempotency_key timeout wait wait_timeout].freeze
  NOT_CALLED = %w[
    healthz readyz metrics openaiCreateImage openaiListModels openaiGetModel listKeys createKey revokeKey
    listBoards createBoard deleteBoard renameBoard downloadBoard addBoardItems removeBoardItem searchGallery
    downloadGalleryItems deleteGalleryItem getGalleryItem restoreGalleryItem unstarGalleryItem starGalleryItem
    openaiEditImage openaiCreateImageVariation
  ].freeze

  def test_every_schema_is_modelled_or_deliberately_left_out
    known = MODELLED.keys + SUBSET.keys + REQUESTS.keys + NOT_MODELLED
    assert_equal SCHEMAS.keys.sort, known.sort
  end

  MODELLED.each do |schema, klass|
    define_method("test_#{schema}_fields_are_the_struct_members") do
      wire = SCHEMAS.fetch(schema).fetch("properties").keys - LEFT_OUT.fetch(schema, [])
      assert_equal wire.sort, (klass.members.map(&:to_s) - ["extra"]).sort
    end
  end

  SUBSET.each do |schema, (klass, more)|
    define_method("test_#{schema}_fields_are_the_struct_members") do
      assert_equal SCHEMAS.fetch(schema).fetch("properties").keys.sort, (klass.members.map(&:to_s) - ["extra"] - more).sort
    end
  end

  REQUESTS.each do |schema, (method, fields)|
    define_method("test_#{schema}_fields_are_sent_by_#{method}") do
      assert_equal SCHEMAS.fetch(schema).fetch("properties").keys.sort, fields.sort
      keywords = AI::Client.instance_method(method).parameters.map { |_, name| name.to_s }
      fields.each { |field| assert_includes keywords, field, "#{method} takes #{field}" }
    end
  end

  OPERATION_BODIES.each do |path, method|
    define_method("test_#{method}_takes_the_fields_of_#{path.split("/").last}") do
      schema = API.dig("paths", path, "post", "requestBody", "content", "application/json", "schema")
      keywords = AI::Client.instance_method(method).parameters.map { |_, name| name.to_s } - CALL_KEYWORDS
      assert_equal schema.fetch("properties").keys.sort, keywords.sort
    end
  end

  def test_every_operation_has_a_method_or_is_deliberately_not_called
    ids = API.fetch("paths").values.flat_map { |ops| ops.values.map { |op| op["operationId"] } }
    assert_equal ids.sort, (OPERATIONS.keys + NOT_CALLED).sort
    OPERATIONS.each_value { |method| assert AI::Client.method_defined?(method), "Client##{method}" }
  end
end
