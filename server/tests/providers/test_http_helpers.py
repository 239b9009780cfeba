"""The shared adapter helpers in ``orchestrator.providers._http``."""

from __future__ import annotations

import email.utils

import pytest
from provider_emulators._common import make_image

from orchestrator.providers import _http
from orchestrator.providers.base import ProviderError, ProviderErrorKind

NOW = 1_700_000_000.0


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"Retry-After": "2"}, 2.0),
        ({"retry-after": "0.5"}, 0.5),
        ({"retry-after-ms": "1500", "retry-after": "9"}, 1.5),  # ms wins (OpenAI)
        ({"retry-after-ms": "junk", "retry-after": "9"}, 9.0),
        ({"retry-after": email.utils.formatdate(NOW + 30, usegmt=True)}, 30.0),
        ({"retry-after": email.utils.formatdate(NOW - 30, usegmt=True)}, 0.0),  # date in the past
        ({"retry-after": "-1"}, None),
        ({"retry-after": "soon"}, None),
        ({}, None),
    ],
)
def test_parse_retry_after(headers: dict[str, str], expected: float | None) -> None:
    assert _http.parse_retry_after(headers, now=NOW) == expected


@pytest.mark.parametrize(
    ("status", "kind"),
    [
        (429, ProviderErrorKind.RETRYABLE),
        (500, ProviderErrorKind.RETRYABLE),
        (503, ProviderErrorKind.RETRYABLE),
        (408, ProviderErrorKind.RETRYABLE),
        (401, ProviderErrorKind.AUTH),
        (402, ProviderErrorKind.AUTH),
        (403, ProviderErrorKind.AUTH),
        (400, ProviderErrorKind.INVALID_REQUEST),
        (404, ProviderErrorKind.INVALID_REQUEST),
        (422, ProviderErrorKind.INVALID_REQUEST),
    ],
)
def test_kind_for_status(status: int, kind: ProviderErrorKind) -> None:
    assert _http.kind_for_status(status) is kind


def test_redact_removes_secret_and_masked_echoes() -> None:
    text = "Incorrect API key provided: sk-abc***************wxyz. Key sk-abcdefwxyz was used."
    assert (
        _http.redact(text, "sk-abcdefwxyz")
        == "Incorrect API key provided: [redacted]. Key [redacted] was used."
    )


def test_nearest_aspect_ratio_and_size() -> None:
    ratios = ("21:9", "16:9", "3:2", "1:1", "2:3", "9:16")
    assert _http.nearest_aspect_ratio(1344, 768, ratios) == "16:9"
    assert _http.nearest_aspect_ratio(1216, 832, ratios) == "3:2"
    assert _http.nearest_aspect_ratio(1536, 640, ratios) == "21:9"
    assert _http.nearest_aspect_ratio(1000, 1010, ratios) == "1:1"
    assert _http.nearest_size(512, 512, ("256x256", "512x512", "1024x1024")) == "512x512"
    assert _http.nearest_size(600, 600, ("256x256", "512x512", "1024x1024")) == "512x512"


def test_sniff_image() -> None:
    image = _http.sniff_image(make_image(40, 30, 1, "WEBP"), provider="p")
    assert (image.content_type, image.width, image.height) == ("image/webp", 40, 30)
    with pytest.raises(ProviderError) as info:
        _http.sniff_image(b"<html>oops</html>", provider="p")
    assert info.value.kind is ProviderErrorKind.RETRYABLE and info.value.provider_code == "malformed_response"


async def test_poll_until_backs_off_and_times_out_at_the_deadline() -> None:
    now = [100.0]
    sleeps: list[float] = []

    async def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        now[0] += seconds

    async def never() -> int | None:
        return None

    with pytest.raises(ProviderError) as info:
        await _http.poll_until(
            never,
            provider="p",
            deadline=106.0,
            interval=1.0,
            max_interval=2.0,
            sleep=sleep,
            clock=lambda: now[0],
        )
    assert info.value.kind is ProviderErrorKind.TIMEOUT and info.value.provider_code == "provider_timeout"
    assert sleeps == [1.0, 1.5, 2.0, 1.5]  # backoff capped at 2, last sleep cut to the deadline
    assert now[0] == 106.0


async def test_poll_until_returns_the_first_result() -> None:
    answers = iter([None, None, "done"])

    async def check() -> str | None:
        return next(answers)

    async def sleep(_: float) -> None:
        pass

    assert await _http.poll_until(check, provider="p", deadline=None, sleep=sleep) == "done"


def test_data_url_is_decoded() -> None:
    import base64

    url = "data:image/png;base64," + base64.b64encode(make_image(8, 8)).decode()
    image = _http._decode_data_url(url, provider="p")
    assert (image.width, image.height) == (8, 8)
