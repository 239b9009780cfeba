"""Input images of the image operations (edit, variations, upscale, remove-background,
image-to-image), and how each kind is sent (the rules of ``clients/spec/conformance.json``,
``operations``):

* a ``str`` starting with ``gen_`` is a stored image (``gen_…``, or ``gen_…:N`` for its N-th
  image), one starting with ``http://`` or ``https://`` a URL: both are sent as text, as they are
  (the server decides which URLs it fetches);
* any other ``str``, or an ``os.PathLike`` (``pathlib.Path``), is a file path: the file is read;
* ``bytes`` (``bytearray``, ``memoryview``) are the image itself;
* a binary file object (anything with ``read()`` returning bytes) is read from where it stands.

When every input is text the body is JSON; when any is an image itself the body is
multipart/form-data, with the texts as text parts in their place beside the files.
"""

from __future__ import annotations

import json
import mimetypes
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

__all__ = ["ImageInput", "Upload", "form_text", "resolve_input", "resolve_inputs"]

ImageInput = str | bytes | bytearray | memoryview | os.PathLike[str] | IO[bytes]
"""A stored image id (``gen_…``/``gen_…:N``), an http(s) URL, a file path (``str`` or
``pathlib.Path``), the image's bytes, or a binary file object."""

_MAGIC = (
    (b"\x89PNG\r\n\x1a\n", "image/png", ".png"),
    (b"\xff\xd8\xff", "image/jpeg", ".jpg"),
    (b"GIF87a", "image/gif", ".gif"),
    (b"GIF89a", "image/gif", ".gif"),
)


@dataclass(frozen=True)
class Upload:
    """An image sent as a file part: its bytes, the file name and content type to declare."""

    filename: str
    content: bytes
    content_type: str


def _sniff(content: bytes) -> tuple[str, str] | None:
    for magic, content_type, suffix in _MAGIC:
        if content.startswith(magic):
            return content_type, suffix
    if content[:4] == b"RIFF" and content[8:12] == b"WEBP":
        return "image/webp", ".webp"
    return None


def _upload(content: bytes, filename: str | None) -> Upload:
    sniffed = _sniff(content)
    if filename:
        guessed = mimetypes.guess_type(filename)[0]
        content_type = (sniffed[0] if sniffed else None) or guessed or "application/octet-stream"
        return Upload(filename, content, content_type)
    if sniffed:
        return Upload("image" + sniffed[1], content, sniffed[0])
    return Upload("image", content, "application/octet-stream")


def _read_path(field: str, path: str | os.PathLike[str]) -> Upload:
    file = Path(path).expanduser()
    try:
        content = file.read_bytes()
    except FileNotFoundError:
        raise ValueError(
            f"{field}: no file at {os.fspath(path)!r} (pass a stored image id gen_..., an http(s) "
            "URL, a file path, bytes or a binary file)"
        ) from None
    except IsADirectoryError:
        raise ValueError(f"{field}: {os.fspath(path)!r} is a folder, not an image file") from None
    except OSError as exc:
        raise ValueError(f"{field}: cannot read {os.fspath(path)!r}: {exc.strerror or exc}") from exc
    return _upload(content, file.name)


def resolve_input(field: str, value: object) -> str | Upload:
    """The text (id or URL) or the file to send for one input; an argument error naming
    ``field`` for anything else, before any request."""
    if isinstance(value, str):
        text = value.strip()
        if not text:
            raise ValueError(f"{field}: an empty string is not an image (give an id, a URL or a file)")
        if text.startswith("gen_") or text.lower().startswith(("http://", "https://")):
            return text
        return _read_path(field, value)
    if isinstance(value, bytes | bytearray | memoryview):
        content = bytes(value)
        if not content:
            raise ValueError(f"{field}: the image's bytes are empty")
        return _upload(content, None)
    if isinstance(value, os.PathLike):
        return _read_path(field, value)
    read = getattr(value, "read", None)
    if callable(read):
        content = read()
        if not isinstance(content, bytes):
            raise TypeError(f"{field}: the file must be opened in binary mode ('rb')")
        if not content:
            raise ValueError(f"{field}: the file is empty (or was already read to its end)")
        name = getattr(value, "name", None)
        return _upload(content, Path(name).name if isinstance(name, str) else None)
    raise TypeError(
        f"{field}: an image is a stored image id (gen_...), an http(s) URL, a file path, bytes or "
        f"a binary file, not {type(value).__name__}"
    )


def resolve_inputs(field: str, value: object) -> list[str | Upload]:
    """One or many inputs (a list or tuple), each resolved; at least one."""
    items: Sequence[object] = value if isinstance(value, list | tuple) else [value]
    if not items:
        raise ValueError(f"{field}: at least one image is required")
    return [resolve_input(f"{field}[{i}]", item) for i, item in enumerate(items)]


def form_text(value: Any) -> str:
    """A field's value as a multipart text part: numbers as digits, metadata as JSON."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, Mapping | list):
        return json.dumps(value, separators=(",", ":"))
    return str(value)
