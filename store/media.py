"""Photo files on disk: content-addressed, written atomically, sniffed so a non-image is refused."""
from __future__ import annotations

import hashlib
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

# Magic numbers of the formats phones send; anything else is not stored as a photo.
_SIGNATURES: tuple[tuple[bytes, int, str, str], ...] = (
    (b"\xff\xd8\xff", 0, "image/jpeg", "jpg"),
    (b"\x89PNG\r\n\x1a\n", 0, "image/png", "png"),
    (b"GIF87a", 0, "image/gif", "gif"),
    (b"GIF89a", 0, "image/gif", "gif"),
    (b"WEBP", 8, "image/webp", "webp"),
    (b"ftypheic", 4, "image/heic", "heic"),
    (b"ftypheix", 4, "image/heic", "heic"),
    (b"ftypmif1", 4, "image/heic", "heic"),
)


def sniff_image(data: bytes) -> tuple[str, str] | None:
    """(content type, extension) of an image, or None when the bytes are not one we accept."""
    if len(data) < 16:
        return None
    for magic, offset, ctype, ext in _SIGNATURES:
        if data[offset:offset + len(magic)] == magic:
            if ext == "webp" and data[:4] != b"RIFF":
                continue
            return ctype, ext
    return None


@dataclass(frozen=True)
class StoredFile:
    path: str          # relative to the media directory
    content_type: str
    size: int
    sha256: str


class MediaStore:
    def __init__(self, directory: str | os.PathLike) -> None:
        self.root = Path(directory)

    def save_image(self, data: bytes) -> StoredFile | None:
        kind = sniff_image(data)
        if kind is None:
            return None
        ctype, ext = kind
        digest = hashlib.sha256(data).hexdigest()
        rel = f"{digest[:2]}/{digest}.{ext}"
        target = self.root / rel
        if not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            # Write then rename: a crash never leaves half a photo under the final name.
            fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".part-")
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, target)
        return StoredFile(rel, ctype, len(data), digest)

    def open(self, rel: str) -> Path | None:
        path = (self.root / rel).resolve()
        if self.root.resolve() not in path.parents or not path.is_file():
            return None
        return path
