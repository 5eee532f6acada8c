"""Reading a stored object back, in chunks, through the storage hooks and an Airflow connection.

The gallery plugin serves images from the api-server without ever handing a signed URL to anyone: it
reads the object itself, with the connection the task wrote it with, and streams the bytes on. Each
store answers two questions: what is the object (size, type, ETag; ``None`` when it is not there) and
its bytes, a chunk at a time (a 20 MB upscale never sits in memory). Cloud SDKs are imported on use.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Protocol

from airflow_provider_runware.storage.inputs import (
    BUCKET_KINDS,
    ObjectRef,
    location_for_object,
    object_ref,
    parse_image_input,
)

CHUNK_BYTES = 256 * 1024


@dataclass(frozen=True)
class ObjectInfo:
    size: int
    content_type: str | None
    etag: str | None


class ObjectReader(Protocol):
    uri: str

    def stat(self) -> ObjectInfo | None:
        """The object's metadata; ``None`` when it does not exist (deleted, never stored)."""

    def chunks(self, chunk_bytes: int = CHUNK_BYTES) -> Iterator[bytes]:
        """The object's bytes, ``chunk_bytes`` at a time."""


class ObjectUnreadable(Exception):
    """The URI is not an object a connection can read back (``https://`` outputs, UUIDs, URLs)."""


def reader_for(uri: str, conn_id: str | None) -> ObjectReader:
    """The reader for ``uri`` (``s3://``, ``gs://``, ``wasbs://``...) through connection ``conn_id``
    (the cloud's default connection when ``None``)."""
    from airflow_provider_runware.storage.inputs import DEFAULT_CONN_IDS

    try:
        image_input = parse_image_input(uri, "storage_uri")
    except Exception as err:
        raise ObjectUnreadable(f"{uri!r} is not a bucket object URI") from err
    if image_input.kind not in BUCKET_KINDS:
        raise ObjectUnreadable(f"{uri!r} is not in a bucket the provider can read back")
    ref = object_ref(image_input)
    conn = conn_id or DEFAULT_CONN_IDS[ref.kind]
    if ref.kind == "s3":
        return _S3Reader(ref, conn)
    if ref.kind == "gs":
        return _GcsReader(ref, conn)
    return _AzureReader(ref, conn)


class _S3Reader:
    def __init__(self, ref: ObjectRef, conn_id: str) -> None:
        self.uri, self.ref = ref.uri, ref
        self.client: Any = location_for_object(ref, conn_id).hook.get_conn()  # type: ignore[union-attr]

    def stat(self) -> ObjectInfo | None:
        from botocore.exceptions import ClientError

        try:
            head = self.client.head_object(Bucket=self.ref.store, Key=self.ref.key)
        except ClientError as err:
            if str(err.response.get("Error", {}).get("Code")) in ("404", "NoSuchKey", "NotFound"):
                return None
            raise
        return ObjectInfo(int(head.get("ContentLength") or 0), head.get("ContentType"), head.get("ETag"))

    def chunks(self, chunk_bytes: int = CHUNK_BYTES) -> Iterator[bytes]:
        body = self.client.get_object(Bucket=self.ref.store, Key=self.ref.key)["Body"]
        try:
            yield from body.iter_chunks(chunk_bytes)
        finally:
            body.close()


class _GcsReader:
    def __init__(self, ref: ObjectRef, conn_id: str) -> None:
        self.uri, self.ref = ref.uri, ref
        location: Any = location_for_object(ref, conn_id)
        self.bucket = location.client.bucket(ref.store)
        self._size = 0

    def stat(self) -> ObjectInfo | None:
        blob = self.bucket.get_blob(self.ref.key, timeout=30)
        if blob is None:
            return None
        self._size = int(blob.size or 0)
        return ObjectInfo(self._size, blob.content_type, blob.etag or blob.md5_hash)

    def chunks(self, chunk_bytes: int = CHUNK_BYTES) -> Iterator[bytes]:
        size = self._size or (self.stat() or ObjectInfo(0, None, None)).size
        blob = self.bucket.blob(self.ref.key)
        for start in range(0, size, chunk_bytes):
            end = min(start + chunk_bytes, size) - 1  # inclusive, as the client's ranges are
            yield blob.download_as_bytes(start=start, end=end, timeout=60, checksum=None)


class _AzureReader:
    def __init__(self, ref: ObjectRef, conn_id: str) -> None:
        self.uri, self.ref = ref.uri, ref
        location: Any = location_for_object(ref, conn_id)
        self.blob = location.blob_client(ref.key)

    def stat(self) -> ObjectInfo | None:
        from azure.core.exceptions import ResourceNotFoundError

        try:
            props = self.blob.get_blob_properties()
        except ResourceNotFoundError:
            return None
        settings = props.content_settings
        return ObjectInfo(int(props.size or 0), settings.content_type if settings else None, props.etag)

    def chunks(self, chunk_bytes: int = CHUNK_BYTES) -> Iterator[bytes]:
        downloader = self.blob.download_blob(max_concurrency=1)
        yield from downloader.chunks()
