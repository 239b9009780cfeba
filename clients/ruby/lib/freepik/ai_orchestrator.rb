# frozen_string_literal: true

# Ruby client for the Freepik AI Orchestrator: one API for every AI image model.
#
#   require "freepik/ai_orchestrator"
#
#   client = Freepik::AiOrchestrator::Client.new(base_url: "http://localhost:8000", api_key: "sk-test-...")
#   response = client.generate(prompt: "A lighthouse at dusk", model: "dall-e-3")
#   puts response.image_url
#
# Standard library only (net/http, json, time, securerandom, uri, fileutils, openssl, base64).
require_relative "ai_orchestrator/version"
require_relative "ai_orchestrator/errors"
require_relative "ai_orchestrator/retry_policy"
require_relative "ai_orchestrator/model"
require_relative "ai_orchestrator/models"
require_relative "ai_orchestrator/page"
require_relative "ai_orchestrator/image_input"
require_relative "ai_orchestrator/clock"
require_relative "ai_orchestrator/sse"
require_relative "ai_orchestrator/transport"
require_relative "ai_orchestrator/client"
require_relative "ai_orchestrator/webhooks"
