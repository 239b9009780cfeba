"""Where ``download()`` writes, and how it writes without ever clobbering a file.

Naming rules (also in the README):

* ``dest`` is a **folder** when it is an existing directory, ends with a path separator, or has
  no file extension (``"out"``, ``"out/"``). The folder is created. Each image of a generation is
  saved as ``<generation id>-<index>.<ext>`` (thumbnails ``<generation id>-<index>-thumb.<ext>``);
  a bare URL keeps its own file name.
* Otherwise ``dest`` is a **file** path (``"sunset.png"``), valid only for a single image.
* The extension comes from the image's content type, else the URL, else the response's
  ``Content-Type``.
* An existing file is never replaced unless ``overwrite=True``: :class:`DestinationExistsError` (a
  :class:`FileExistsError`) names it.

The same rules, as cases, are in ``clients/spec/conformance.json`` (``downloads``).
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import IO
from urllib.parse import unquote, urlsplit

from .exceptions import DestinationExistsError
from .models import GenerationResponse, ImageInfo

DownloadSource = str | GenerationResponse | ImageInfo
"""A signed URL, a generation (all its images) or one of its images."""

_SUFFIXES = {"image/png": ".png", "image/jpeg": ".jpg", "image/webp": ".webp", "image/gif": ".gif"}


def suffix_for(content_type: str | None) -> str:
    """``.png`` for ``image/png`` and so on; ``""`` when unknown."""
    return _SUFFIXES.get((content_type or "").split(";")[0].strip().lower(), "")


@dataclass(frozen=True)
class PlannedFile:
    """One image to fetch and the file it goes to."""

    url: str
    path: Path | None
    """The final path, or ``None`` while the extension waits for the response's content type."""
    folder: Path
    stem: str

    def resolve(self, content_type: str | None) -> Path:
        if self.path is not None:
            return self.path
        return self.folder / (self.stem + (suffix_for(content_type) or ".bin"))


def _is_folder(dest: Path, raw: str) -> bool:
    if dest.is_dir() or raw.endswith(("/", os.sep)):
        return True
    return not dest.suffix


def _url_name(url: str) -> tuple[str, str]:
    name = unquote(Path(urlsplit(url).path).name) or "image"
    suffix = Path(name).suffix
    return (name[: -len(suffix)] if suffix else name), suffix


def _sources(source: DownloadSource, thumbnail: bool) -> list[tuple[str, str | None, str]]:
    """``(url, stem or None for the URL's name, suffix known up front)`` for each image."""
    kind = "thumbnail_url" if thumbnail else "image URL"
    if isinstance(source, str):
        if not source:
            raise ValueError("download() needs a URL, a GenerationResponse or an ImageInfo")
        return [(source, None, "")]
    if isinstance(source, ImageInfo):
        images = [source]
        owner, indexes = source._generation_id, [source._index]
    elif isinstance(source, GenerationResponse):
        images = list(source.images)
        if not images and source.image_url:
            images = [ImageInfo(url=source.image_url, thumbnail_url=source.thumbnail_url)]
        owner, indexes = source.id, list(range(len(images)))
        if not images:
            raise ValueError(f"GenerationResponse has no {kind} (status: {source.status})")
    else:
        raise TypeError(
            f"download() takes a URL, a GenerationResponse or an ImageInfo, not {type(source).__name__}"
        )
    planned: list[tuple[str, str | None, str]] = []
    for image, index in zip(images, indexes, strict=True):
        url = image.thumbnail_url if thumbnail else image.url
        if not url:
            raise ValueError(f"ImageInfo has no {kind}")
        _, url_suffix = _url_name(url)
        known = url_suffix if thumbnail else (suffix_for(image.content_type) or url_suffix)
        stem = (
            None if owner is None or index is None else f"{owner}-{index}" + ("-thumb" if thumbnail else "")
        )
        planned.append((url, stem, known))
    return planned


def plan(source: DownloadSource, dest: str | os.PathLike[str], *, thumbnail: bool) -> list[PlannedFile]:
    """Decide every file a download writes, before anything is fetched."""
    raw = os.fspath(dest)
    if not raw:
        raise ValueError("download() needs a destination folder or file path")
    target = Path(raw).expanduser()
    sources = _sources(source, thumbnail)
    if _is_folder(target, raw):
        if target.exists() and not target.is_dir():
            raise DestinationExistsError(
                f"{target} exists and is not a folder (give a file name with an extension)", str(target)
            )
        files = []
        for url, stem, suffix in sources:
            if stem is None:
                stem, suffix = _url_name(url)
            files.append(PlannedFile(url, target / (stem + suffix) if suffix else None, target, stem))
        return files
    if len(sources) != 1:
        raise ValueError(
            f"{raw} is a single file, but this generation has {len(sources)} images: pass a folder "
            "to save them all, or download one of response.images"
        )
    url = sources[0][0]
    return [PlannedFile(url, target, target.parent, target.stem)]


def refuse_existing(path: Path, overwrite: bool) -> None:
    if not overwrite and (path.exists() or path.is_symlink()):
        raise _exists(path)


def _exists(path: Path) -> DestinationExistsError:
    return DestinationExistsError(f"{path} already exists; pass overwrite=True to replace it", str(path))


def open_partial(path: Path) -> tuple[IO[bytes], Path]:
    """A new temporary file beside ``path`` (same file system, so the final rename is atomic)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    return os.fdopen(fd, "wb"), Path(name)


def publish(partial: Path, path: Path, overwrite: bool) -> None:
    """Give the complete ``partial`` its final name; never replace a file unless ``overwrite``.

    A hard link fails atomically when the name is taken, so two downloads racing for one name
    cannot both win. File systems without hard links fall back to check-then-rename.
    """
    try:
        if overwrite:
            os.replace(partial, path)
            return
        try:
            os.link(partial, path)
        except FileExistsError:
            raise _exists(path) from None
        except OSError:
            refuse_existing(path, overwrite)
            os.replace(partial, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            partial.unlink()
