"""Input images are refused by rule before anything is stored: size, format, pixels, corruption."""

from __future__ import annotations

import io
import struct
import zlib

import pytest
from PIL import Image

from orchestrator.media.input_images import InputImageRejected, check_input_image
from orchestrator.media.provenance import (
    CorruptImage,
    check_png,
    parameters_text,
    read_provenance,
    with_provenance,
)

LIMITS = {"max_bytes": 20_000_000, "max_pixels": 40_000_000}


def _encode(image: Image.Image, fmt: str) -> bytes:
    out = io.BytesIO()
    image.save(out, fmt)
    return out.getvalue()


def _png_header_only(width: int, height: int) -> bytes:
    """A PNG that declares ``width`` × ``height`` with almost no data: a decompression bomb's header."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 64)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


@pytest.mark.parametrize(
    "fmt, content_type", [("PNG", "image/png"), ("JPEG", "image/jpeg"), ("WEBP", "image/webp")]
)
def test_png_jpeg_and_webp_are_accepted_with_their_size(fmt: str, content_type: str) -> None:
    checked = check_input_image(_encode(Image.new("RGB", (64, 32), "red"), fmt), **LIMITS)
    assert (checked.content_type, checked.width, checked.height) == (content_type, 64, 32)


def test_alpha_is_detected_for_masks() -> None:
    assert check_input_image(_encode(Image.new("RGBA", (8, 8)), "PNG"), **LIMITS).has_alpha
    assert not check_input_image(_encode(Image.new("RGB", (8, 8)), "PNG"), **LIMITS).has_alpha


def test_a_gif_is_refused_by_format() -> None:
    with pytest.raises(InputImageRejected) as refused:
        check_input_image(_encode(Image.new("P", (8, 8)), "GIF"), **LIMITS)
    assert refused.value.rule == "format" and "PNG, JPEG or WebP" in str(refused.value)


def test_a_40000_square_png_bomb_is_refused_from_its_header() -> None:
    with pytest.raises(InputImageRejected) as refused:
        check_input_image(_png_header_only(40_000, 40_000), **LIMITS)
    assert refused.value.rule == "too_many_pixels"


def test_pixels_over_the_configured_cap_are_refused_below_pillows_own_limit() -> None:
    with pytest.raises(InputImageRejected) as refused:
        check_input_image(_png_header_only(5_000, 5_000), max_bytes=10_000, max_pixels=1_000_000)
    assert refused.value.rule == "too_many_pixels" and "5000×5000" in str(refused.value)


def test_a_truncated_file_is_refused_as_corrupt() -> None:
    whole = _encode(Image.effect_noise((256, 256), 64).convert("RGB"), "PNG")
    with pytest.raises(InputImageRejected) as refused:
        check_input_image(whole[: len(whole) // 2], **LIMITS)
    assert refused.value.rule == "corrupt"


def test_an_oversized_file_is_refused_before_it_is_parsed() -> None:
    with pytest.raises(InputImageRejected) as refused:
        check_input_image(b"\x89PNG" + b"\x00" * 2_000, max_bytes=1_000, max_pixels=10)
    assert refused.value.rule == "too_large" and "1000 bytes" in str(refused.value)


@pytest.mark.parametrize("data", [b"", b"not an image at all", b"\x89PNG\r\n\x1a\n"])
def test_garbage_is_refused_as_unreadable(data: bytes) -> None:
    with pytest.raises(InputImageRejected) as refused:
        check_input_image(data, **LIMITS)
    assert refused.value.rule in {"empty", "unreadable"}


def test_provenance_is_written_as_png_text_chunks_and_keeps_the_pixels() -> None:
    original = Image.effect_noise((32, 32), 50).convert("RGB")
    png = _encode(original, "PNG")
    text = parameters_text("a red fox", {"Model": "flux-dev", "Seed": 42, "Steps": None})
    stamped = with_provenance(png, {"parameters": text, "generation_id": "gen_1"})
    assert read_provenance(stamped) == {
        "parameters": "a red fox\nModel: flux-dev, Seed: 42",
        "generation_id": "gen_1",
    }
    with Image.open(io.BytesIO(stamped)) as again:
        assert again.tobytes() == original.tobytes()


def test_provenance_replaces_its_own_chunks_and_keeps_the_rest_byte_for_byte() -> None:
    png = _encode(Image.effect_noise((32, 32), 50).convert("RGB"), "PNG")
    once = with_provenance(png, {"generation_id": "gen_1", "note": "kept"})
    twice = with_provenance(once, {"generation_id": "gen_2"})
    assert read_provenance(twice) == {"note": "kept", "generation_id": "gen_2"}
    image_data = png[png.index(b"IDAT") - 4 : png.index(b"IEND") - 4]  # the IDAT chunks, whole
    assert image_data in twice  # copied, not decoded and re-encoded


@pytest.mark.parametrize("damage", ["cut in half", "cut before IEND", "one bit flipped"])
def test_a_damaged_png_is_caught_by_its_chunk_crcs(damage: str) -> None:
    png = _encode(Image.effect_noise((64, 64), 50).convert("RGB"), "PNG")
    broken = {
        "cut in half": png[: len(png) // 2],
        "cut before IEND": png[:-12],
        "one bit flipped": png[:60] + bytes([png[60] ^ 1]) + png[61:],
    }[damage]
    check_png(png)  # whole
    with pytest.raises(CorruptImage):
        check_png(broken)
    with pytest.raises(CorruptImage):
        with_provenance(broken, {"generation_id": "gen_1"})


def test_provenance_leaves_other_formats_untouched() -> None:
    jpeg = _encode(Image.new("RGB", (8, 8)), "JPEG")
    assert with_provenance(jpeg, {"parameters": "x"}) == jpeg
