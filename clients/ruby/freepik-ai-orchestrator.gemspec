# frozen_string_literal: true

require_relative "lib/freepik/ai_orchestrator/version"

Gem::Specification.new do |spec|
  spec.name = "freepik-ai-orchestrator"
  spec.version = Freepik::AiOrchestrator::VERSION
  spec.summary = "Ruby client for the Freepik AI Orchestrator: one API for every AI image model"
  spec.description = "Generate images through the Freepik AI Orchestrator gateway (DALL-E, Stability, " \
                     "Flux, Midjourney, Freepik and more): retries that never pay twice, async jobs, " \
                     "auto-paging history and downloads. Standard library only."
  spec.authors = ["Freepik"]
  spec.license = "MIT"
  spec.homepage = "https://github.com/freepik/ai-orchestrator-ruby"
  spec.required_ruby_version = ">= 3.1"
  spec.files = Dir["lib/**/*.rb"] + %w[README.md CHANGELOG.md]
  spec.require_paths = ["lib"]
  spec.metadata = { "rubygems_mfa_required" => "true" }
end
