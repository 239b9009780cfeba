# frozen_string_literal: true

# Beyond the client reference: submit a job, follow its events, wait for it, download the image.
require "freepik/ai_orchestrator"
require "tmpdir"

BASE_URL = ENV.fetch("ORCHESTRATOR_BASE_URL", "http://localhost:8000")
API_KEY = ENV.fetch("ORCHESTRATOR_API_KEY", "your-api-key")

Freepik::AiOrchestrator::Client.open(base_url: BASE_URL, api_key: API_KEY) do |client|
  job = client.submit(prompt: "A lighthouse in a storm", model: "dall-e-3", size: "1792x1024")
  puts "submitted #{job.id}: #{job.status}"
  client.stream_events(job.id) do |event|
    puts "  #{event.event}: progress #{event.data.progress}"
  end
  done = client.wait_for(job.id)
  folder = ARGV.fetch(0) { Dir.mktmpdir }
  client.download(done, folder).each do |path|
    puts "saved #{path} (#{File.size(path)} bytes)"
  end
end
