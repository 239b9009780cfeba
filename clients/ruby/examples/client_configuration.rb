# frozen_string_literal: true

# "Client Configuration" and "Authentication": every way to build a client.
require "freepik/ai_orchestrator"

BASE_URL = ENV.fetch("ORCHESTRATOR_BASE_URL", "http://localhost:8000")
API_KEY = ENV.fetch("ORCHESTRATOR_API_KEY", "your-api-key")

clients = []

clients << Freepik::AiOrchestrator::Client.new(
  base_url: BASE_URL,
  api_key: API_KEY,
  timeout: 30,
  max_retries: 3,
  retry_backoff: 2.0
)

# API key authentication
clients << Freepik::AiOrchestrator::Client.new(
  base_url: BASE_URL,
  api_key: API_KEY
)

# Bearer token authentication (a JWT, or an API key sent as a bearer token)
clients << Freepik::AiOrchestrator::OrchestrationClient.new(
  base_url: BASE_URL,
  bearer_token: API_KEY
)

# Each client keeps one persistent connection; the block form closes it for you.
Freepik::AiOrchestrator::Client.open(base_url: BASE_URL, api_key: API_KEY) do |client|
  puts "#{client.list_models.size} models reachable at #{client.base_url}"
end

clients.each do |client|
  client.list_models
  client.close
end
puts "#{clients.size} more clients configured"
