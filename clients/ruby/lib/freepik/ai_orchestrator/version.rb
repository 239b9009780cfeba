# frozen_string_literal: true

module Freepik
  module AiOrchestrator
    VERSION = "0.3.0"
  end
end
