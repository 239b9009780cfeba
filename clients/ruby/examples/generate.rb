# frozen_string_literal: true

# "generate()" with every option of the client reference.
require "freepik/ai_orchestrator"

BASE_URL = ENV.fetch("ORCHESTRATOR_BASE_URL", "http://localhost:8000")
API_KEY = ENV.fetch("ORCHESTRATOR_API_KEY", "your-api-key")

client = Freepik::AiOrchestrator::Client.new(base_url: BASE_URL, api_key: API_KEY)

response = client.generate(
  prompt: "Your creative prompt",
  model: "dall-e-3",
  style: "photorealistic",
  size: "1024x1024",
  quality: "hd",
  metadata: {
    campaign: "summer-2024",
    brand: "your-brand"
  }
)

puts "#{response.id}: #{response.status}, #{response.size} #{response.quality}, " \
     "cost $#{response.cost} #{response.currency}, #{format("%.2f", response.processing_time)} s"
puts "Created at: #{response.created_at.utc.iso8601}"
puts "Generated image URL: #{response.image_url}"
client.close
