# frozen_string_literal: true

require "json"
require "pathname"
require "securerandom"

module Freepik
  module AiOrchestrator
    # An input image given as its bytes, for the image operations (#edit, #upscale, ...).
    #
    # A String is read as a stored image id (<tt>gen_…</tt>), a URL or a file path, so bytes
    # already in memory are wrapped in this to say what they are:
    #
    #   client.upscale(image: Freepik::AiOrchestrator::ImageFile.new(png, filename: "cat.png"))
    #
    # The image is uploaded as a file (multipart/form-data). +content_type+ nil: told from the bytes.
    class ImageFile
      attr_reader :bytes, :filename, :content_type

      def initialize(bytes, filename: "image", content_type: nil)
        raise ArgumentError, "ImageFile: the image must be a String of bytes, not #{bytes.class}" unless bytes.is_a?(String)
        raise ArgumentError, "ImageFile: the image has no bytes" if bytes.empty?

        @bytes = bytes.b.freeze
        @filename = filename.to_s.empty? ? "image" : filename.to_s
        @content_type = content_type
        freeze
      end

      def inspect
        "#<#{self.class.name} filename=#{@filename.inspect} bytes=#{@bytes.bytesize}>"
      end
    end

    # How an image operation's input is sent: a stored image id or a URL as text (the body stays
    # JSON), anything else as a file (the body becomes multipart/form-data). Every refusal is an
    # ArgumentError naming the field, raised before any request. Internal.
    module ImageInput
      # One file of a multipart body.
      UploadPart = Struct.new(:bytes, :filename, :content_type, keyword_init: true)
      # A multipart body, encoded once so a retried call sends the same bytes.
      MultipartBody = Struct.new(:content_type, :body, keyword_init: true)

      SIGNATURES = {
        "\x89PNG\r\n\x1A\n".b => "image/png", "\xFF\xD8\xFF".b => "image/jpeg",
        "GIF87a".b => "image/gif", "GIF89a".b => "image/gif"
      }.freeze
      ACCEPTED = "pass a stored image id (gen_…), an http(s) URL, a file path or Pathname, an IO, or an ImageFile"

      module_function

      # The input as text (gen_…, gen_…:N, http(s)://…) or as an UploadPart.
      def resolve(value, field)
        case value
        when String then from_string(value, field)
        when Pathname then from_path(value.to_s, field)
        when ImageFile then UploadPart.new(bytes: value.bytes, filename: value.filename,
                                           content_type: value.content_type || sniff(value.bytes))
        else
          raise ArgumentError, "#{field}: cannot send #{value.class} as an image; #{ACCEPTED}" unless value.respond_to?(:read)

          from_io(value, field)
        end
      end

      def from_string(value, field)
        text = value.strip
        raise ArgumentError, "#{field}: empty; #{ACCEPTED}" if text.empty?
        return text if text.start_with?("gen_") || text.match?(%r{\Ahttps?://}i)

        from_path(value, field)
      end

      def from_path(path, field)
        unless File.file?(path) && File.readable?(path)
          raise ArgumentError, "#{field}: no readable file at #{path.inspect} " \
                               "(a String is a stored image id gen_…, an http(s) URL, or a file path)"
        end

        bytes = File.binread(path)
        raise ArgumentError, "#{field}: the file #{path.inspect} is empty" if bytes.empty?

        UploadPart.new(bytes:, filename: File.basename(path), content_type: sniff(bytes))
      end

      def from_io(io, field)
        bytes = io.read
        if bytes.nil? || bytes.empty?
          raise ArgumentError, "#{field}: the IO gave no bytes (is it open for reading, and not at its end?)"
        end

        name = io.respond_to?(:path) && io.path ? File.basename(io.path.to_s) : "image"
        UploadPart.new(bytes: bytes.b, filename: name, content_type: sniff(bytes.b))
      rescue IOError => e
        raise ArgumentError, "#{field}: cannot read the IO (#{e.message})"
      end

      # The Content-Type the bytes say they are (the server checks the bytes itself).
      def sniff(bytes)
        SIGNATURES.each { |signature, type| return type if bytes.start_with?(signature) }
        return "image/webp" if bytes.start_with?("RIFF".b) && bytes.byteslice(8, 4) == "WEBP".b

        "application/octet-stream"
      end

      # +parts+: [[name, String or UploadPart], ...] in order. Built by hand (not Net::HTTP's
      # set_form) so the body exists before the first attempt and every retry resends it.
      def multipart(parts)
        boundary = "----freepik-ai-orchestrator-#{SecureRandom.hex(12)}"
        body = String.new(encoding: Encoding::BINARY)
        parts.each do |name, value|
          body << "--#{boundary}\r\n"
          if value.is_a?(UploadPart)
            body << %(Content-Disposition: form-data; name="#{quote(name)}"; filename="#{quote(value.filename)}"\r\n).b
            body << "Content-Type: #{value.content_type}\r\n\r\n" << value.bytes.b << "\r\n"
          else
            body << %(Content-Disposition: form-data; name="#{quote(name)}"\r\n\r\n).b << text(value).b << "\r\n"
          end
        end
        body << "--#{boundary}--\r\n"
        MultipartBody.new(content_type: "multipart/form-data; boundary=#{boundary}", body: body.freeze)
      end

      def text(value)
        case value
        when Hash, Array then JSON.generate(value)
        else value.to_s
        end
      end

      # A header parameter value that no quote or line break can end early (RFC 7578 §4.2).
      def quote(value)
        value.to_s.gsub("\\", "\\\\\\\\").gsub('"', "%22").gsub("\r", "%0D").gsub("\n", "%0A")
      end
    end
  end
end
