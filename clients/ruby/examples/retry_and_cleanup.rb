# frozen_string_literal: true

# "Retry Logic" and "Resource Cleanup".
#
# The client already retries rate limits, timeouts and 5xx by itself (see README "Retries"); this
# manual loop is for waits longer than the client's 30 s cap, which it hands back to you.
require "freepik/ai_orchestrator"

BASE_URL = ENV.fetch("ORCHESTRATOR_BASE_URL", "http://localhost:8000")
API_KEY = ENV.fetch("ORCHESTRATOR_API_KEY", "your-api-key")

def generate_with_retry(client, prompt, max_retries: 3)
  attempt = 0
  begin
    client.generate(prompt:, model: "dall-e-3")
  rescue Freepik::AiOrchestrator::RateLimitError => e
    attempt += 1
    raise if attempt >= max_retries

    sleep(e.retry_after || ((2**attempt) + rand))
    retry
  end
end

client = Freepik::AiOrchestrator::Client.new(base_url: BASE_URL, api_key: API_KEY)
begin
  response = client.generate(prompt: "Test", model: "dall-e-3")
  puts "Generated image URL: #{response.image_url}"
  puts "With retry: #{generate_with_retry(client, "Test again").image_url}"
ensure
  client.close
end
