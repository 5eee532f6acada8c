"""Deterministic identities for images: the basis of "never pay twice".

A taskUUID is derived from where the image belongs (dag, run, task, map index, image index), what was
asked (a fingerprint of the request) and which generation it is (bumped only when an earlier
generation failed). The same Airflow task instance asking the same thing again therefore produces the
same taskUUIDs, and Runware answers a resubmission with ``conflictTaskUUID`` instead of a second bill.
Storage object names derive from the same identity, so a retry overwrites instead of duplicating.
"""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

_UNSAFE_PATH_CHARS = re.compile(r"[^A-Za-z0-9._-]+")
_EXTENSIONS = {"JPG": "jpg", "PNG": "png", "WEBP": "webp", "MP4": "mp4", "WEBM": "webm", "MOV": "mov"}


@dataclass(frozen=True)
class TaskInstanceIdentity:
    """Where the images belong in Airflow; one per (mapped) task instance."""

    dag_id: str
    run_id: str
    task_id: str
    map_index: int = -1

    @classmethod
    def from_context(cls, context: Mapping[str, Any]) -> TaskInstanceIdentity:
        ti = context["ti"]
        map_index = getattr(ti, "map_index", -1)
        return cls(
            dag_id=ti.dag_id,
            run_id=ti.run_id,
            task_id=ti.task_id,
            map_index=map_index if isinstance(map_index, int) else -1,
        )

    def object_prefix(self) -> str:
        """Readable, path-safe folder for this task instance's images."""
        parts = [self.dag_id, self.run_id, self.task_id]
        if self.map_index >= 0:
            parts.append(f"map-{self.map_index}")
        return "/".join(_UNSAFE_PATH_CHARS.sub("-", part).strip("-") or "_" for part in parts)


def request_fingerprint(wire_task: Mapping[str, Any]) -> str:
    """Hash of what was asked; fields that change on every try (UUIDs, signed URLs) are left out."""
    volatile = {"taskUUID", "uploadEndpoint", "webhookURL", "deliveryMethod"}
    stable = {key: value for key, value in wire_task.items() if key not in volatile}
    canonical = json.dumps(stable, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()[:32]


def derive_task_uuid(
    identity: TaskInstanceIdentity,
    image_index: int,
    fingerprint: str,
    generation: int,
    row: int | None = None,
) -> str:
    """A v4-shaped UUID (Runware requires v4) that is a pure function of its inputs.

    ``row`` is the request's row in the operator's batch form; single requests leave it out, so
    their UUIDs are the ones earlier versions derived.
    """
    parts: tuple[object, ...] = (
        "runware",
        identity.dag_id,
        identity.run_id,
        identity.task_id,
        identity.map_index,
        image_index,
        fingerprint,
        generation,
    )
    seed = "|".join(str(part) for part in (*parts, *(() if row is None else (f"row={row}",))))
    digest = bytearray(hashlib.sha256(seed.encode()).digest()[:16])
    digest[6] = (digest[6] & 0x0F) | 0x40  # version 4
    digest[8] = (digest[8] & 0x3F) | 0x80  # RFC 4122 variant
    return str(uuid.UUID(bytes=bytes(digest)))


def object_name(
    identity: TaskInstanceIdentity,
    index: int,
    output_format: str,
    row: int | None = None,
    kind: str = "image",
) -> str:
    """Storage name of one result file (``image-0.jpg``, ``video-0.mp4``), stable across retries of the
    same task instance."""
    extension = _EXTENSIONS.get(output_format.upper(), output_format.lower())
    name = f"{kind}-{index}" if row is None else f"row-{row:05d}-{kind}-{index}"
    return f"{identity.object_prefix()}/{name}.{extension}"
