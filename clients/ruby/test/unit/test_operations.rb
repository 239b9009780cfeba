# frozen_string_literal: true

require "base64"
require "pathname"
require "stringio"
require "tmpdir"
require_relative "../test_helper"

# The image operations (conformance.json `operations`): each method's endpoint, how every kind
# of input is sent (JSON or multipart), the argument errors raised before any request, and the
# answer handled as #generate handles it.
class TestOperations < Minitest::Test
  include TestSupport::ClientFactory

  AI = Freepik::AiOrchestrator
  SPEC = TestSupport.spec.fetch("operations")
  PNG = "\x89PNG\r\n\x1A\n\0\0\0\rIHDR".b

  def setup
    super
    @dir = Dir.mktmpdir("orchestrator-ruby-ops")
  end

  def teardown
    FileUtils.rm_rf(@dir)
    super
  end

  def write(name, bytes)
    File.join(@dir, name).tap { |path| File.binwrite(path, bytes) }
  end

  # Calls the method the conformance file names for Ruby with +input+ as its image(s).
  def call(operation, input, **options)
    api = client
    case operation
    when "edit" then api.edit(prompt: "paint it teal", images: [input], **options)
    when "variation" then api.create_variation(image: input, **options)
    when "upscale" then api.upscale(image: input, **options)
    when "remove_background" then api.remove_background(image: input, **options)
    when "image_to_image" then api.image_to_image(prompt: "as a watercolour", image: input, **options)
    end
  end

  # The parts of a multipart body in order: [name, filename or nil, content type or nil, value].
  def parts(request)
    boundary = request.headers.fetch("Content-Type")[%r{\Amultipart/form-data; boundary=(.+)\z}, 1]
    refute_nil boundary, request.headers["Content-Type"]
    body = request.body.b
    assert body.end_with?("--#{boundary}--\r\n")
    body.split("--#{boundary}")[1...-1].map do |raw|
      head, value = raw.byteslice(2..).split("\r\n\r\n", 2)
      [head[/ name="([^"]*)"/, 1], head[/ filename="([^"]*)"/, 1], head[/\r\nContent-Type: (.+)/, 1], value.byteslice(0...-2)]
    end
  end

  def json_body(index = 0)
    JSON.parse(@transport.requests.fetch(index).body)
  end

  SPEC.fetch("methods").each do |method|
    name = method.fetch("names").fetch("ruby")

    define_method("test_#{name}_posts_to_#{method.fetch("endpoint").split("/").last}") do
      @transport.json(TestSupport.generation("gen_op", "operation" => method.fetch("operation")))
      result = call(method.fetch("operation"), "gen_abc")
      verb, path = method.fetch("endpoint").split
      assert_equal verb, @transport.requests[0].method
      assert_equal "http://api.test#{path}", @transport.requests[0].url.to_s
      assert_equal method.fetch("operation"), result.operation
      keywords = AI::Client.instance_method(name).parameters.map { |_, keyword| keyword.to_s }
      (method.fetch("required") + method.fetch("optional")).each { |field| assert_includes keywords, field }
    end

    SPEC.fetch("input_cases").each do |input_case|
      define_method("test_#{name}_sends_#{input_case.fetch("name").tr(" ", "_")}") do
        value = input_case.dig("input", "value")
        input = case input_case.dig("input", "kind")
                when "id", "url" then value
                when "bytes" then AI::ImageFile.new(Base64.strict_decode64(value))
                when "path" then write(value, PNG)
                end
        field = method.fetch("operation") == "edit" ? "images" : "image"
        @transport.json(TestSupport.generation("gen_op"))
        call(method.fetch("operation"), input)
        request = @transport.requests.fetch(0)
        if input_case.fetch("body") == "json"
          assert_equal "application/json", request.headers["Content-Type"]
          expected = input_case.fetch("sent_as")
          assert_equal field == "images" ? [expected] : expected, json_body[field]
        else
          files = parts(request).reject { |part| part[1].nil? }
          assert_equal 1, files.size
          sent_name, filename, _type, bytes = files.first
          assert_equal field, sent_name
          assert_equal input_case.dig("input", "kind") == "bytes" ? Base64.strict_decode64(value).b : PNG, bytes
          assert_equal input_case["filename"], filename if input_case["filename"]
        end
      end
    end
  end

  def test_a_mixed_edit_is_multipart_with_ids_and_the_other_fields_as_text
    mask = write("mask.png", "#{PNG}mask")
    io = StringIO.new("#{PNG}io".b)
    @transport.json(TestSupport.generation("gen_op"))
    client.edit(prompt: "paint it teal", images: ["gen_abc:1", Pathname(write("a.png", "#{PNG}a")), io,
                                                  "https://example.com/c.png"],
                mask:, model: "gpt-image-1", n: 2, output_compression: 80, metadata: { campaign: "summer", n: 1 })
    assert_equal [
      ["prompt", nil, nil, "paint it teal"], ["model", nil, nil, "gpt-image-1"], ["n", nil, nil, "2"],
      ["output_compression", nil, nil, "80"], ["metadata", nil, nil, '{"campaign":"summer","n":1}'],
      ["images", nil, nil, "gen_abc:1"], ["images", "a.png", "image/png", "#{PNG}a"],
      ["images", "image", "image/png", "#{PNG}io"], ["images", nil, nil, "https://example.com/c.png"],
      ["mask", "mask.png", "image/png", "#{PNG}mask"]
    ], parts(@transport.requests[0])
  end

  def test_an_open_file_is_uploaded_under_its_name
    path = write("boat.png", PNG)
    @transport.json(TestSupport.generation("gen_op"))
    File.open(path, "rb") { |file| client.upscale(image: file) }
    assert_equal [["image", "boat.png", "image/png", PNG]], parts(@transport.requests[0])
  end

  def test_a_json_edit_sends_only_the_fields_given
    @transport.json(TestSupport.generation("gen_op"))
    client.edit(prompt: "p", images: "gen_a", mask: "gen_b:2", size: "256x256", metadata: {})
    assert_equal({ "prompt" => "p", "size" => "256x256", "metadata" => {}, "images" => ["gen_a"], "mask" => "gen_b:2" },
                 json_body)
  end

  def test_upscale_and_image_to_image_send_their_own_fields
    @transport.json(TestSupport.generation("gen_op")).json(TestSupport.generation("gen_op"))
    client.upscale(image: "gen_a", factor: 4, prompt: "crisp", model: "magnific-upscaler")
    client.image_to_image(prompt: "p", image: AI::ImageFile.new(PNG, filename: "x.png"), strength: 0.35,
                          negative_prompt: "blur", seed: 7)
    assert_equal({ "factor" => 4, "prompt" => "crisp", "model" => "magnific-upscaler", "image" => "gen_a" }, json_body)
    text = parts(@transport.requests[1]).select { |part| part[1].nil? }.to_h { |name, _, _, value| [name, value] }
    assert_equal({ "prompt" => "p", "strength" => "0.35", "negative_prompt" => "blur", "seed" => "7" }, text)
  end

  ARGUMENT_ERRORS = {
    "edit without any image" => [->(c) { c.edit(prompt: "p", images: []) }, "images"],
    "edit with a blank prompt" => [->(c) { c.edit(prompt: "  ", images: "gen_a") }, "prompt"],
    "image to image with a blank prompt" => [->(c) { c.image_to_image(prompt: "", image: "gen_a") }, "prompt"],
    "a number" => [->(c) { c.upscale(image: 42) }, "image"],
    "a number among the edit images" => [->(c) { c.edit(prompt: "p", images: ["gen_a", 4.5]) }, "images[1]"],
    "nil as the image" => [->(c) { c.create_variation(image: nil) }, "image"],
    "a missing file" => [->(c) { c.remove_background(image: "/nonexistent/cat.png") }, "image"],
    "a missing Pathname" => [->(c) { c.upscale(image: Pathname("/nonexistent/x.png")) }, "image"],
    "a missing mask file" => [->(c) { c.edit(prompt: "p", images: "gen_a", mask: "no-such-mask.png") }, "mask"],
    "an empty string" => [->(c) { c.upscale(image: "") }, "image"],
    "an exhausted IO" => [->(c) { c.upscale(image: StringIO.new("")) }, "image"]
  }.freeze

  ARGUMENT_ERRORS.each do |name, (call, field)|
    define_method("test_argument_error_#{name.tr(" ", "_")}_names_the_field_before_any_request") do
      error = assert_raises(ArgumentError) { call.call(client) }
      assert error.message.start_with?("#{field}:"), error.message
      assert_empty @transport.requests
    end
  end

  def test_a_job_handed_back_unfinished_is_waited_for_and_a_failure_raises
    @transport.json(TestSupport.generation("gen_up", "status" => "queued"), status: 202)
              .json(TestSupport.generation("gen_up", "status" => "running"))
              .json(TestSupport.generation("gen_up", "status" => "failed",
                                                     "error" => { "code" => "provider_error", "message" => "boom" }))
    error = assert_raises(AI::ProviderError) { client.upscale(image: "gen_a") }
    assert_equal "gen_up", error.generation_id
    assert_equal "http://api.test/api/v1/generations/gen_up", @transport.requests[1].url.to_s
    assert_match(/\Await=\d+\z/, @transport.requests[0].headers["Prefer"])
  end

  def test_wait_false_and_an_idempotency_key_work_as_on_generate
    @transport.json(TestSupport.generation("gen_q", "status" => "queued"), status: 202)
    job = client.remove_background(image: "gen_a", wait: false, idempotency_key: "order-42")
    assert_equal "queued", job.status
    assert_equal "respond-async", @transport.requests[0].headers["Prefer"]
    assert_equal "order-42", @transport.requests[0].headers["Idempotency-Key"]
    assert_equal 1, @transport.requests.size
  end

  def test_a_retried_upload_resends_the_same_body_under_the_same_key
    @transport.add(503, { "error" => { "type" => "api_error", "code" => "service_unavailable", "message" => "x" } })
    @transport.json(TestSupport.generation("gen_op"))
    client.upscale(image: AI::ImageFile.new(PNG, filename: "x.png"))
    first, second = @transport.requests
    assert_equal first.body, second.body
    assert_equal first.headers["Idempotency-Key"], second.headers["Idempotency-Key"]
    assert_equal first.headers["Content-Type"], second.headers["Content-Type"]
  end

  def test_the_links_of_an_operation_are_read
    source = { "role" => "image", "origin" => "generation", "generation_id" => "gen_up", "index" => 0,
               "url" => "http://api.test/api/v1/images/in.png?sig=s", "width" => 64, "height" => 32,
               "content_type" => "image/png" }
    @transport.json(TestSupport.generation("gen_cut", "operation" => "remove_background", "operation_params" => { "factor" => 2 },
                                                      "parents" => ["gen_up"], "children" => [], "sources" => [source]))
    job = client.get_generation("gen_cut")
    assert_equal ["remove_background", { "factor" => 2 }, ["gen_up"], []],
                 [job.operation, job.operation_params, job.parents, job.children]
    assert_equal AI::SourceImage.from_hash(source), job.sources.first
    assert_equal ["generation", "gen_up", 0, 64], [job.sources.first.origin, job.sources.first.generation_id,
                                                   job.sources.first.index, job.sources.first.width]

    @transport.json(TestSupport.generation("gen_op"))
    plain = client.get_generation("gen_op")
    assert_equal ["generate", [], [], nil], [plain.operation, plain.sources, plain.parents, plain.children]
  end
end
