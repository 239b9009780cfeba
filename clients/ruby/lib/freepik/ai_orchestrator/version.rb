# frozen_string_literal: true

module Freepik
  module AiOrchestrator
    VERSION = "0.1.0"
  end
end
