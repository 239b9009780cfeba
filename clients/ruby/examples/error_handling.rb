# frozen_string_literal: true

# "Error Handling".
require "freepik/ai_orchestrator"

BASE_URL = ENV.fetch("ORCHESTRATOR_BASE_URL", "http://localhost:8000")
API_KEY = ENV.fetch("ORCHESTRATOR_API_KEY", "your-api-key")

client = Freepik::AiOrchestrator::Client.new(base_url: BASE_URL, api_key: API_KEY)

begin
  response = client.generate(
    prompt: "Beautiful landscape",
    model: "dall-e-3"
  )
rescue Freepik::AiOrchestrator::AuthenticationError
  puts "Invalid API key"
rescue Freepik::AiOrchestrator::RateLimitError => e
  puts "Rate limit exceeded. Retry after: #{e.retry_after}"
rescue Freepik::AiOrchestrator::ModelNotAvailableError
  puts "Requested model is not available"
rescue Freepik::AiOrchestrator::Error => e
  puts "Generation failed: #{e.message}"
else
  puts "Generated image URL: #{response.image_url}"
ensure
  client.close
end
