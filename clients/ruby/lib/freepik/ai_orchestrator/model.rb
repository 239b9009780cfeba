# frozen_string_literal: true

require "date"
require "time"

module Freepik
  module AiOrchestrator
    # Shared behaviour of the response objects: frozen keyword Structs built from a decoded JSON
    # object.
    #
    # Fields a newer server adds are kept, frozen, in #extra (a Hash keyed by the JSON name), so
    # the client never rejects a response it does not fully know. Objects parsed from an HTTP
    # response also remember #request_id (the X-Request-ID header; quote it when reporting a
    # problem) and #idempotent_replayed? (true when the server answered a retried POST from its
    # idempotency record instead of running it again).
    module Model
      def self.included(base)
        base.extend(ClassMethods)
      end

      # Class-level declarations and the parser.
      module ClassMethods
        def field_types
          @field_types ||= {}
        end

        def field_defaults
          @field_defaults ||= {}
        end

        def required_fields
          @required_fields ||= []
        end

        # Declares how a member is built from JSON (see Model.coerce).
        def types(**map)
          field_types.merge!(map)
        end

        # Values for members the server left out.
        def defaults(**map)
          field_defaults.merge!(map)
        end

        def required(*names)
          required_fields.concat(names)
        end

        # Builds a frozen instance from a decoded JSON object; raises ArgumentError when the
        # object lacks a required field or a value has the wrong shape.
        def from_hash(hash, request_id: nil, idempotent_replayed: false)
          raise ArgumentError, "#{name} expects a JSON object, not #{hash.class}" unless hash.is_a?(Hash)

          missing = required_fields.reject { |field| hash.key?(field.to_s) && !hash[field.to_s].nil? }
          raise ArgumentError, "#{name} is missing #{missing.join(", ")}" unless missing.empty?

          known = {}
          extra = {}
          hash.each do |key, value|
            symbol = key.to_s.to_sym
            if symbol != :extra && members.include?(symbol)
              known[symbol] = Model.coerce(field_types[symbol], value, "#{name}.#{key}")
            else
              extra[key.to_s] = Model.deep_freeze(value)
            end
          end
          field_defaults.each { |key, value| known[key] = Model.deep_freeze(value) if known[key].nil? }
          instance = new(**known, extra: extra.freeze)
          instance.instance_variable_set(:@request_id, request_id)
          instance.instance_variable_set(:@idempotent_replayed, idempotent_replayed)
          instance.freeze
        end
      end

      # The server's X-Request-ID for the response this object came from.
      def request_id
        @request_id
      end

      def idempotent_replayed?
        @idempotent_replayed == true
      end

      # A Hash keyed by member name, nested objects included, unknown fields merged back in.
      def to_h
        super.each_with_object({}) do |(key, value), out|
          if key == :extra
            value.each { |name, v| out[name.to_sym] = v }
          else
            out[key] = Model.plain(value)
          end
        end
      end

      def self.plain(value)
        case value
        when Model then value.to_h
        when Array then value.map { |item| plain(item) }
        else value
        end
      end

      # +type+: nil (any JSON value), :time, :date, :float, a Model class, [ModelClass] for a
      # list of objects, or { String => ModelClass } for an object of them by name.
      def self.coerce(type, value, where)
        return nil if value.nil?

        case type
        when nil then deep_freeze(value)
        when :time then Time.iso8601(value.to_s).freeze
        when :date then Date.iso8601(value.to_s).freeze
        when :float
          raise ArgumentError, "#{where} must be a number" unless value.is_a?(Numeric)

          value.to_f
        when Array
          raise ArgumentError, "#{where} must be a list" unless value.is_a?(Array)

          value.map { |item| type.first.from_hash(item) }.freeze
        when Hash
          raise ArgumentError, "#{where} must be an object" unless value.is_a?(Hash)

          value.to_h { |key, item| [key.to_s.freeze, type.values.first.from_hash(item)] }.freeze
        else type.from_hash(value)
        end
      rescue ArgumentError, TypeError => e
        raise ArgumentError, e.message.start_with?(where) ? e.message : "#{where}: #{e.message}"
      end

      def self.deep_freeze(value)
        case value
        when Hash then value.to_h { |k, v| [deep_freeze(k), deep_freeze(v)] }.freeze
        when Array then value.map { |item| deep_freeze(item) }.freeze
        else value.freeze
        end
      end
    end
  end
end
