"""Thumbnails (256 px on the longest side), made once per stored object and kept on local disk.

The cache key is the object's identity as the store reports it (URI, ETag, size), so a retry that
overwrites an image gets a new thumbnail and an unchanged image is never read twice. The original is
streamed to a temporary file first (never held whole in memory), and Pillow is imported only here.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

from airflow_provider_runware.storage.reading import ObjectInfo, ObjectReader

THUMBNAIL_PX = 256
CACHE_ENV = "RUNWARE_THUMBNAIL_CACHE"


def cache_dir() -> Path:
    """``[runware] thumbnail_cache_dir``, else ``$RUNWARE_THUMBNAIL_CACHE``, else a folder in the
    system's temporary directory."""
    from airflow_provider_runware.compat import conf

    configured = conf.get("runware", "thumbnail_cache_dir", fallback=None) or os.environ.get(CACHE_ENV)
    path = Path(configured) if configured else Path(tempfile.gettempdir()) / "airflow-runware-thumbnails"
    path.mkdir(parents=True, exist_ok=True)
    return path


def cache_key(uri: str, info: ObjectInfo) -> str:
    return hashlib.sha256(f"{uri}\n{info.etag}\n{info.size}".encode()).hexdigest()


def cached(key: str) -> tuple[Path, str] | None:
    """The cached thumbnail for ``key`` and its content type, if made before."""
    for suffix, content_type in ((".jpg", "image/jpeg"), (".png", "image/png")):
        path = cache_dir() / f"{key}{suffix}"
        if path.is_file():
            return path, content_type
    return None


def make(reader: ObjectReader, key: str) -> tuple[Path, str]:
    """Read the object, scale it down, write the thumbnail atomically; returns it and its type.

    Images with transparency (cut-outs) stay PNG; others become JPEG."""
    from PIL import Image

    folder = cache_dir()
    with tempfile.NamedTemporaryFile(dir=folder, suffix=".orig", delete=False) as original:
        for chunk in reader.chunks():
            original.write(chunk)
    try:
        with Image.open(original.name) as image:
            image.draft("RGB", (THUMBNAIL_PX * 2, THUMBNAIL_PX * 2))  # JPEG: decode at a smaller scale
            image.thumbnail((THUMBNAIL_PX, THUMBNAIL_PX))
            alpha = image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info
            small = image.convert("RGBA" if alpha else "RGB")
        suffix, content_type, fmt = (".png", "image/png", "PNG") if alpha else (".jpg", "image/jpeg", "JPEG")
        target = folder / f"{key}{suffix}"
        with tempfile.NamedTemporaryFile(dir=folder, suffix=".part", delete=False) as part:
            small.save(part, fmt, **({"quality": 85} if fmt == "JPEG" else {}))
        os.replace(part.name, target)
        return target, content_type
    finally:
        os.unlink(original.name)
