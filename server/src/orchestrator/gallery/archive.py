"""A zip archive written as a stream: each entry leaves as soon as it is written, so a download
of a large board never sits whole in memory."""

from __future__ import annotations

import io
import zipfile
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class Entry:
    name: str
    key: str
    modified: datetime


class _Sink(io.RawIOBase):
    """A write-only, non-seekable file: zipfile then writes data descriptors and never seeks."""

    def __init__(self) -> None:
        super().__init__()
        self._chunks: list[bytes] = []

    def writable(self) -> bool:
        return True

    def write(self, data: bytes) -> int:  # type: ignore[override]
        self._chunks.append(bytes(data))
        return len(data)

    def take(self) -> bytes:
        data = b"".join(self._chunks)
        self._chunks.clear()
        return data


async def zip_stream(
    entries: Sequence[Entry], read: Callable[[str], Awaitable[bytes]]
) -> AsyncIterator[bytes]:
    """The archive of ``entries``, chunk by chunk; ``read`` fetches each stored object.

    Images are already compressed, so entries are stored, not deflated (no CPU spent for nothing).
    """
    sink = _Sink()
    with zipfile.ZipFile(sink, "w", compression=zipfile.ZIP_STORED) as archive:
        for entry in entries:
            try:
                data = await read(entry.key)
            except FileNotFoundError:
                continue  # removed since the archive was planned (a purge): left out, not a cut stream
            info = zipfile.ZipInfo(entry.name, date_time=entry.modified.timetuple()[:6])
            info.compress_type = zipfile.ZIP_STORED
            archive.writestr(info, data)
            yield sink.take()
    yield sink.take()
