# frozen_string_literal: true

# "generate_batch()" and "Batch Processing".
require "freepik/ai_orchestrator"

BASE_URL = ENV.fetch("ORCHESTRATOR_BASE_URL", "http://localhost:8000")
API_KEY = ENV.fetch("ORCHESTRATOR_API_KEY", "your-api-key")

client = Freepik::AiOrchestrator::Client.new(base_url: BASE_URL, api_key: API_KEY)

client.generate_batch(
  prompts: ["Prompt 1", "Prompt 2", "Prompt 3"],
  model: "dall-e-3",
  batch_size: 3
)

# Process multiple prompts efficiently
prompts = ["Prompt 1", "Prompt 2", "Prompt 3"]
responses = client.generate_batch(prompts:, model: "dall-e-3")

# One item per prompt, in order: a generation when it succeeded, an error when it failed.
responses.each do |item|
  if item.ok?
    puts "#{item.prompt}: #{item.image_url}"
  else
    puts "#{item.prompt}: failed: #{item.error&.message || "unknown"}"
  end
end
puts "#{responses.succeeded} succeeded, #{responses.failed} failed, total $#{responses.total_cost}"
client.close
