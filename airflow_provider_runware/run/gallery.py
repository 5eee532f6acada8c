"""The per-try gallery record: what the plugin's gallery shows of one task instance's results.

The run engine pushes it to XCom under :data:`GALLERY_XCOM_KEY` at the end of *every* try, failed ones
included (the ``return_value`` record lists stored results only, and below Airflow 3.3 the ledger is
deleted when the task succeeds). It is small and secret-free: prompts, models, sizes, seeds, costs,
states, errors as text, storage URIs (never a signed URL) and the ids of the connections that read the
objects back. The api-server plugin (``airflow_provider_runware.plugins``) reads it from the metadata
database and streams the objects through the storage hooks.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from airflow_provider_runware.run.finishing import describe
from airflow_provider_runware.run.ledger import ResultEntry, ResultLedger, ResultState

if TYPE_CHECKING:
    from airflow_provider_runware.storage import OutputLocation
    from airflow_provider_runware.tasks.base import TaskArguments

log = logging.getLogger(__name__)

GALLERY_XCOM_KEY = "runware_results"
RECORD_VERSION = 1
# Longest prompt, text result or error message kept (the record stays small for a 100-row batch).
MAX_TEXT = 400
# A URL's query (where signatures live) anywhere in free text, e.g. an error quoting a presigned URL.
_URL_QUERY = re.compile(r"(https?://[^\s?#'\"]+)[?#][^\s'\"]*")
_SIGNATURE_PARTS = re.compile(r"(X-Amz-[A-Za-z-]+|X-Goog-[A-Za-z-]+|sig|se|sv|sp|sr)=[^\s&'\"]+", re.I)


class GalleryState:
    """What the gallery says of a result at the end of a try."""

    STORED = "stored"
    REUSED = "reused"  # stored by an earlier try of the same task instance (not paid again)
    FAILED = "failed"
    PENDING = "pending"  # still running, or never confirmed, when the try ended


def scrub(text: str) -> str:
    """Free text without URL queries or signature parameters, cut to :data:`MAX_TEXT` characters."""
    text = _SIGNATURE_PARTS.sub(r"\1=<redacted>", _URL_QUERY.sub(r"\1", text))
    return text if len(text) <= MAX_TEXT else f"{text[: MAX_TEXT - 1]}…"


def gallery_state(entry: ResultEntry, reused: frozenset[str]) -> str:
    if entry.state is ResultState.STORED:
        return GalleryState.REUSED if entry.task_uuid in reused else GalleryState.STORED
    if entry.state in (ResultState.FAILED, ResultState.LOST):
        return GalleryState.FAILED
    return GalleryState.PENDING


def input_refs(
    request: TaskArguments, storage_conn_id: str | None, output_location: str | None
) -> list[dict[str, Any]]:
    """Each image input of ``request`` as the gallery can show it: a bucket URI with the connection
    that reads it (the same rule as the run's own input checks), a Runware imageUUID (often a result of
    an earlier task of the same run), or a URL without its query."""
    from airflow_provider_runware.storage.base import strip_secrets
    from airflow_provider_runware.storage.inputs import (
        BUCKET_KINDS,
        InputResolver,
        object_ref,
        parse_image_input,
    )

    resolver = InputResolver(storage_conn_id, output_location)
    refs: list[dict[str, Any]] = []
    for parameter, value in request.image_input_references():
        reference = value.get("image") if isinstance(value, Mapping) else value
        try:
            image_input = parse_image_input(reference, parameter)
        except Exception as err:  # a bad input already failed the try; the gallery leaves it out
            log.debug("Gallery record leaves out input %s: %s", parameter, type(err).__name__)
            continue
        if image_input.kind in BUCKET_KINDS:
            uri = object_ref(image_input).uri
            refs.append({"parameter": parameter, "uri": uri, "conn_id": resolver.conn_id_for(image_input)})
        elif image_input.kind == "uuid":
            refs.append({"parameter": parameter, "image_uuid": image_input.reference.lower()})
        else:
            refs.append({"parameter": parameter, "url": strip_secrets(image_input.reference)})
    return refs


def result_entry(
    position: int,
    entry: ResultEntry,
    request: TaskArguments,
    *,
    state: str,
    storage_uri: str | None,
    inputs: list[dict[str, Any]],
) -> dict[str, Any]:
    """One result of the record (``position`` is its image index in the plugin's URLs)."""
    item = entry.result or {}
    fields = request.record_fields()
    prompt = fields.get("positive_prompt") or fields.get("prompt")
    text = item.get("text")
    result: dict[str, Any] = {
        "position": position,
        "index": entry.index,
        "row": entry.row,
        "task_uuid": entry.task_uuid,
        "kind": str(request.RESULT),
        "model": fields.get("model"),
        "prompt": scrub(str(prompt)) if prompt else None,
        "width": fields.get("width"),
        "height": fields.get("height"),
        "format": fields.get("format"),
        "seed": item.get("seed"),
        "cost": item.get("cost") if entry.was_generated else None,
        "state": state,
        "error": scrub(describe(entry.error)) if entry.error and state == GalleryState.FAILED else None,
        "storage_uri": storage_uri if entry.was_generated or state != GalleryState.PENDING else None,
        "result_uuid": item.get("imageUUID") or item.get("videoUUID") or item.get("mediaUUID"),
        "text": scrub(str(text)) if isinstance(text, str) else None,
        "bytes": item.get("bytes"),
        "inputs": inputs,
    }
    return {key: value for key, value in result.items() if value is not None or key in ("row", "cost")}


def gallery_record(
    ledger: ResultLedger,
    requests: Sequence[TaskArguments],
    *,
    location: OutputLocation | None,
    object_name_for: Callable[[ResultEntry], str],
    storage_conn_id: str | None,
    output_location: str | None,
    reused: frozenset[str],
    try_number: int | None,
) -> dict[str, Any]:
    """The whole record of one try: every ledger entry, in ledger order (its image index)."""
    from airflow_provider_runware.storage.base import strip_secrets

    inputs_by_row = [input_refs(request, storage_conn_id, output_location) for request in requests]
    files = location is not None and requests[0].RESULT != "text"
    results = []
    for position, entry in enumerate(ledger.entries):
        row = entry.row or 0
        uri = location.uri_for(object_name_for(entry)) if files and location is not None else None
        results.append(
            result_entry(
                position,
                entry,
                requests[row],
                state=gallery_state(entry, reused),
                storage_uri=uri,
                inputs=inputs_by_row[row],
            )
        )
    return {
        "version": RECORD_VERSION,
        "task_type": requests[0].TASK_TYPE,
        "try_number": try_number,
        "output_location": strip_secrets(output_location) if output_location else None,
        "storage_conn_id": _conn_id(location) or storage_conn_id,
        "results": results,
    }


def _conn_id(location: OutputLocation | None) -> str | None:
    """The connection the task wrote its outputs with (the location's default when none was given)."""
    return getattr(location, "conn_id", None) or getattr(location, "wasb_conn_id", None)


# What a sensor's result copies from the record of the task that submitted it (the wire item lacks it).
SUBMITTED_FIELDS = ("kind", "model", "prompt", "width", "height", "format", "row", "index", "inputs")


def _wire_kind(item: Mapping[str, Any]) -> str:
    if "videoUUID" in item or "mediaUUID" in item:
        return "video"
    if ("text" in item or "structuredData" in item) and "imageUUID" not in item:
        return "text"
    return "image"


def sensor_record(
    *,
    results: Sequence[Mapping[str, Any]],
    errors: Sequence[Mapping[str, Any]],
    pending: Mapping[str, int],
    submitted: Mapping[str, Mapping[str, Any]],
    task_type: str | None,
    try_number: int | None,
) -> dict[str, Any]:
    """The record of a ``RunwareTaskSensor`` try, from what Runware answered.

    ``results`` are getResponse items, ``errors`` :meth:`RunwareError.to_dict` dicts, ``pending`` the
    images still running per taskUUID. Runware's answer names no model, prompt or size: each result takes
    them from the submitting task's own record (``submitted``, by taskUUID) when there is one, and has no
    ``model`` otherwise (the gallery says "unknown"). Results are Runware's: no ``storage_uri``, and the
    delivery URL without its query under ``url``.
    """
    from airflow_provider_runware.storage.base import strip_secrets

    def entry(task_uuid: str, fields: dict[str, Any]) -> dict[str, Any]:
        known = submitted.get(task_uuid) or {}
        copied = {key: known[key] for key in SUBMITTED_FIELDS if known.get(key) is not None}
        return {"position": 0, "task_uuid": task_uuid, "row": None, **copied, **fields}

    entries = []
    for item in results:
        url = item.get("imageURL") or item.get("videoURL") or item.get("mediaURL")
        text = item.get("text")
        fields = {
            "kind": _wire_kind(item),
            "model": item.get("model") if isinstance(item.get("model"), str) else None,
            "seed": item.get("seed"),
            "cost": item.get("cost"),
            "state": GalleryState.STORED,
            "url": strip_secrets(str(url)) if url else None,
            "result_uuid": item.get("imageUUID") or item.get("videoUUID") or item.get("mediaUUID"),
            "text": scrub(text) if isinstance(text, str) else None,
        }
        entries.append(entry(str(item.get("taskUUID")), {k: v for k, v in fields.items() if v is not None}))
    for error in errors:
        failed = {"state": GalleryState.FAILED, "cost": None, "error": scrub(describe(error))}
        entries.append(entry(str(error.get("task_uuid")), failed))
    for task_uuid, missing in pending.items():
        running = {"state": GalleryState.PENDING, "cost": None}
        entries.extend(entry(task_uuid, dict(running)) for _ in range(missing))
    for position, result in enumerate(entries):
        result["position"] = position
        result.setdefault("kind", "image")
        result.setdefault("inputs", [])
    return {
        "version": RECORD_VERSION,
        "task_type": task_type,
        "try_number": try_number,
        "output_location": None,
        "storage_conn_id": None,
        "results": entries,
    }
