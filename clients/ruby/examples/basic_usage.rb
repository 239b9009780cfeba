# frozen_string_literal: true

# The client reference's "Basic Usage", in Ruby.
require "freepik/ai_orchestrator"

BASE_URL = ENV.fetch("ORCHESTRATOR_BASE_URL", "http://localhost:8000")
API_KEY = ENV.fetch("ORCHESTRATOR_API_KEY", "your-api-key")

# Initialize client
client = Freepik::AiOrchestrator::Client.new(
  base_url: BASE_URL,
  api_key: API_KEY
)

# Generate content
response = client.generate(
  prompt: "A beautiful sunset over mountains",
  model: "dall-e-3",
  style: "photorealistic"
)

puts "Generated image URL: #{response.image_url}"
client.close
