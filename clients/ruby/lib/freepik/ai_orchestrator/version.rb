# frozen_string_literal: true

module Freepik
  module AiOrchestrator
    VERSION = "0.2.0"
  end
end
