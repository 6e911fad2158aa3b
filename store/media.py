"""Photo and voice files on disk: content-addressed, written atomically, sniffed so anything else is refused."""
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


# The recordings the chat platforms hand over for a voice note: WeCom, WeCom kf and the Official Account
# give AMR (the Official Account may say speex), WeChat's own clients record SILK, Feishu sends Opus in Ogg.
# Each is known by its own header; the bytes decide, never the platform's word for them.
_AUDIO_SIGNATURES: tuple[tuple[bytes, str, str], ...] = (
    (b"#!AMR\n", "audio/amr", "amr"),
    (b"#!AMR-WB\n", "audio/amr-wb", "awb"),
    (b"#!SILK_V3", "audio/silk", "silk"),
    (b"\x02#!SILK_V3", "audio/silk", "silk"),   # the variant WeChat writes, with a leading 0x02
    (b"OggS", "audio/ogg", "ogg"),             # Opus (Feishu) or Speex in an Ogg stream
    (b"Speex   ", "audio/speex", "spx"),       # a bare Speex stream, its header packet first
)
MAX_AUDIO_BYTES = 5 * 1024 * 1024   # a minute of AMR is about 60 KB; ten minutes of Opus about 1.2 MB


def sniff_audio(data: bytes) -> tuple[str, str] | None:
    """(content type, extension) of a voice recording, or None when the bytes are not one we keep."""
    for magic, ctype, ext in _AUDIO_SIGNATURES:
        if len(data) > len(magic) and data.startswith(magic):   # a header and at least a byte of sound
            return ctype, ext
    return None


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
        return None if kind is None else self._write(data, *kind)

    def save_audio(self, data: bytes, max_bytes: int = MAX_AUDIO_BYTES) -> StoredFile | None:
        """A voice note's recording, or None when it is larger than `max_bytes` or not a format we keep."""
        kind = sniff_audio(data) if len(data) <= max_bytes else None
        return None if kind is None else self._write(data, *kind)

    def _write(self, data: bytes, ctype: str, ext: str) -> StoredFile:
        digest = hashlib.sha256(data).hexdigest()
        rel = f"{digest[:2]}/{digest}.{ext}"
        target = self.root / rel
        if not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            # Write then rename: a crash never leaves half a file under the final name.
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
