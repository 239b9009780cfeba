# frozen_string_literal: true

# "Model Management" and "Analytics and Monitoring".
require "freepik/ai_orchestrator"

BASE_URL = ENV.fetch("ORCHESTRATOR_BASE_URL", "http://localhost:8000")
API_KEY = ENV.fetch("ORCHESTRATOR_API_KEY", "your-api-key")

client = Freepik::AiOrchestrator::Client.new(base_url: BASE_URL, api_key: API_KEY)

models = client.list_models
models.each do |model|
  puts "#{model.name}: #{model.description}"
end

model_info = client.get_model_info("dall-e-3")
puts "Max resolution: #{model_info.max_resolution}"
puts "Supported styles: #{model_info.supported_styles.join(", ")}"

stats = client.get_usage_stats(
  start_date: "2024-01-01",
  end_date: "2024-01-31"
)
puts "Total generations: #{stats.total_generations}"
puts "Cost: $#{stats.total_cost}"

history = client.get_generation_history(
  limit: 50,
  filter_by_model: "dall-e-3"
)
# size is this page; each walks every page, fetching the next one as needed.
puts "History: #{history.size} on the first page, more: #{history.has_more}"
history.each do |generation|
  puts "  #{generation.created_at.strftime("%Y-%m-%d %H:%M")} #{generation.id} #{generation.prompt[0, 40].inspect}"
end
client.close
