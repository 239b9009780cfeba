# frozen_string_literal: true

require_relative "integration_helper"

# The image operations against a real server: a chain by id, provenance, prices, an upload.
class TestOperations < Minitest::Test
  include LiveServer

  def test_the_chain_by_id_is_linked_and_priced_in_history
    client = live_client
    tag = { chain: "ruby-#{SecureRandom.hex(6)}" }
    root = client.generate(prompt: "a red kite", model: "dall-e-2", size: "256x256", metadata: tag)
    # Every step takes the previous one's id: no image is downloaded or uploaded.
    edited = client.edit(prompt: "paint it teal", images: root.id, model: "dall-e-2", metadata: tag)
    up1 = client.upscale(image: edited.id, factor: 2, model: "magnific-upscaler", metadata: tag)
    up2 = client.upscale(image: up1.id, factor: 2, model: "magnific-upscaler", metadata: tag)
    cut = client.remove_background(image: up2.id, model: "freepik-remove-background", metadata: tag)

    assert_equal %w[succeeded] * 4, [edited, up1, up2, cut].map(&:status)
    assert_equal ["edit", [root.id]], [edited.operation, edited.parents]
    assert_equal %w[generation] + [root.id], [edited.sources.first.origin, edited.sources.first.generation_id]
    assert_equal [edited.id], up1.parents
    assert_equal 2, up1.operation_params["factor"]
    assert_equal [up2.id], cut.parents
    assert_equal [1024, 1024], [up2.images.first.width, up2.images.first.height]

    middle = client.get_generation(up1.id)
    assert_equal [[edited.id], [up2.id]], [middle.parents, middle.children]

    history = client.get_generation_history(limit: 10, metadata: tag).data.map { |g| [g.id, g.operation, g.cost] }
    assert_equal [
      [cut.id, "remove_background", 0.01], [up2.id, "upscale", 0.1], [up1.id, "upscale", 0.1],
      [edited.id, "edit", 0.016], [root.id, "generate", 0.016]
    ], history
  end

  def test_an_upload_from_a_file
    client = live_client
    root = client.generate(prompt: "a small boat", model: "dall-e-2", size: "256x256")
    Dir.mktmpdir do |dir|
      path = client.download(root, dir).first
      up = File.open(path, "rb") { |file| client.upscale(image: file, factor: 2, model: "magnific-upscaler") }
      from_path = client.upscale(image: path, factor: 2, model: "magnific-upscaler")
      [up, from_path].each do |job|
        assert_equal "upscale", job.operation
        assert_empty job.parents, "an upload has no parent generation"
        source = job.sources.first
        assert_equal ["image", "upload", 256, 256], [source.role, source.origin, source.width, source.height]
        assert_equal [512, 512], [job.images.first.width, job.images.first.height]
        assert_in_delta 0.1, job.cost, 1e-9
      end
    end
  end

  def test_the_server_names_the_field_of_a_bad_input
    error = assert_raises(AI::Error) { live_client.upscale(image: "gen_doesnotexist", factor: 2, model: "magnific-upscaler") }
    assert_equal "image", error.param
  end
end
