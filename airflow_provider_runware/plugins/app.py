"""The plugin's FastAPI app, mounted by the api-server at ``/runware``: the gallery and the images.

Routes (every one behind :func:`auth.authorized_dag_reader`, checked before anything is looked up)::

    GET /runs/{dag_id}/{run_id}/gallery[?task_id=..[&map_index=..]]     HTML gallery
    GET /runs/{dag_id}/{run_id}/results.json[?task_id=..[&map_index=..]] the same data as JSON
    GET /runs/{dag_id}/{run_id}/tasks/{task_id}/{map_index}/images/{n}            the stored object
    GET /runs/{dag_id}/{run_id}/tasks/{task_id}/{map_index}/images/{n}/thumbnail  256 px thumbnail
    GET .../images/{n}/inputs/{k}[/thumbnail]    an input of result n that lives in a bucket

Objects are read with the connection recorded by the task that wrote them and streamed in chunks;
no signed URL is ever made. Built when the plugins manager imports the plugin (the api-server only).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from typing import Annotated, Any, NamedTuple

from fastapi import Depends, FastAPI, HTTPException, Request, status
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, Response, StreamingResponse

from airflow_provider_runware.plugins.auth import authorized_dag_reader
from airflow_provider_runware.plugins.urls import URL_PREFIX, base_path

log = logging.getLogger(__name__)

CACHE_CONTROL = "private, max-age=3600"
NOT_FOUND = "No such Runware result"

app = FastAPI(
    title="Runware gallery",
    description="Images made by the Runware provider's tasks, served from their storage.",
    dependencies=[Depends(authorized_dag_reader)],
)


@app.exception_handler(HTTPException)
async def _http_error(request: Request, exc: HTTPException) -> Response:
    """401 on a page opened in a browser: a sign-in page (the same for every URL); else JSON."""
    if exc.status_code == status.HTTP_401_UNAUTHORIZED and "text/html" in request.headers.get("accept", ""):
        from airflow_provider_runware.plugins.pages import login_html

        return HTMLResponse(login_html(base_path(), URL_PREFIX), status_code=401)
    return JSONResponse({"detail": exc.detail}, status_code=exc.status_code, headers=exc.headers)


def _session() -> Iterator[Any]:
    """A session of the request's own, as Airflow's ``SessionDep`` makes: FastAPI runs a sync dependency
    and its endpoint on different threadpool threads, so the thread-scoped session would be shared by
    concurrent requests (a gallery loading nine thumbnails at once got 500s)."""
    from airflow.utils.session import create_session

    with create_session(scoped=False) as session:
        yield session


SessionDep = Annotated[Any, Depends(_session)]


def _int(value: str | None, name: str) -> int | None:
    if value is None or value == "":
        return None
    try:
        return int(value)
    except ValueError:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"{name} must be an integer") from None


def _view(session: Any, dag_id: str, run_id: str, task_id: str | None, map_index: str | None) -> Any:
    from airflow_provider_runware.plugins.results import load_records, run_view

    # The UI's task-instance tab leaves "{MAP_INDEX}" in place on an unmapped task: then the task's
    # results are shown, whatever its map index.
    index = int(map_index) if map_index and map_index.lstrip("-").isdigit() else None
    return run_view(load_records(session, dag_id, run_id, task_id or None, index))


@app.get("/runs/{dag_id}/{run_id}/gallery", response_class=HTMLResponse)
def gallery(
    dag_id: str,
    run_id: str,
    session: SessionDep,
    task_id: str | None = None,
    map_index: str | None = None,
) -> HTMLResponse:
    from airflow_provider_runware.plugins.pages import gallery_html

    view = _view(session, dag_id, run_id, task_id, map_index)
    return HTMLResponse(gallery_html(dag_id, run_id, view, task_id), headers={"Cache-Control": "no-store"})


@app.get("/runs/{dag_id}/{run_id}/results.json")
def results_json(
    dag_id: str,
    run_id: str,
    session: SessionDep,
    task_id: str | None = None,
    map_index: str | None = None,
) -> JSONResponse:
    view = _view(session, dag_id, run_id, task_id, map_index)
    return JSONResponse({"dag_id": dag_id, "run_id": run_id, **view}, headers={"Cache-Control": "no-store"})


class _Found(NamedTuple):
    """The task record a result belongs to, the result itself and its number (a route's image_index)."""

    task: Any
    result: dict[str, Any]
    position: int


class StoredObject(NamedTuple):
    """Where an image route's object lives: its URI and the connection id to read it with."""

    uri: str
    conn_id: str | None


def _found(
    dag_id: str, run_id: str, task_id: str, map_index: str, image_index: str, session: SessionDep
) -> _Found:
    """The result an image route names (a dependency, resolved after the app's authorisation); 404 if none."""
    from airflow_provider_runware.plugins.results import find_result, load_records

    index, position = _int(map_index, "map_index"), _int(image_index, "image_index")
    records = load_records(session, dag_id, run_id, task_id, index)
    result = find_result(records[0], position) if records and position is not None else None
    if result is None or position is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, NOT_FOUND)
    return _Found(records[0], result, position)


def _result_object(found: Annotated[_Found, Depends(_found)]) -> StoredObject:
    """The result's own stored object; 404 if it was not stored."""
    result = found.result
    if not result.get("storage_uri") or result.get("state") not in ("stored", "reused"):
        state = result.get("state")
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"Result {found.position} was not stored ({state})")
    return StoredObject(str(result["storage_uri"]), found.task.record.get("storage_conn_id"))


def _input_object(input_index: str, found: Annotated[_Found, Depends(_found)]) -> StoredObject:
    """One of the result's inputs that lives in a bucket; 404 if there is no such input."""
    inputs = found.result.get("inputs") or []
    number = _int(input_index, "input_index")
    ref = inputs[number] if number is not None and 0 <= number < len(inputs) else None
    if not ref or not ref.get("uri"):
        raise HTTPException(status.HTTP_404_NOT_FOUND, "No such input in a bucket")
    return StoredObject(str(ref["uri"]), ref.get("conn_id"))


ResultObject = Annotated[StoredObject, Depends(_result_object)]
InputObject = Annotated[StoredObject, Depends(_input_object)]


def _reader(uri: str, conn_id: str | None) -> tuple[Any, Any]:
    from airflow_provider_runware.storage.reading import ObjectUnreadable, reader_for

    try:
        reader = reader_for(uri, conn_id)
        info = reader.stat()
    except ObjectUnreadable as err:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(err)) from None
    except Exception as err:  # a store or connection problem: say which object, never a signed URL
        log.warning("Could not read %s through connection %r: %s", uri, conn_id, type(err).__name__)
        raise HTTPException(
            status.HTTP_502_BAD_GATEWAY, f"Could not read {uri} through connection {conn_id!r}"
        ) from None
    if info is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"{uri} does not exist (deleted, or never stored)")
    return reader, info


Body = Callable[[str, Any, Any, dict[str, str]], Response]


def _serve(request: Request, stored: StoredObject, body: Body) -> Response:
    """Open the object and answer 304 when the caller's ETag still matches; else ``body(uri, reader,
    info, headers)`` answers, with the ETag and Cache-Control headers already in ``headers``."""
    from airflow_provider_runware.plugins.thumbnails import cache_key

    reader, info = _reader(stored.uri, stored.conn_id)
    etag = f'"{cache_key(stored.uri, info)[:32]}"'
    headers = {"ETag": etag, "Cache-Control": CACHE_CONTROL}
    if request.headers.get("if-none-match") == etag:
        return Response(status_code=status.HTTP_304_NOT_MODIFIED, headers=headers)
    return body(stored.uri, reader, info, headers)


def _object_body(uri: str, reader: Any, info: Any, headers: dict[str, str]) -> Response:
    """The object, streamed in chunks, with its stored content type (else one guessed from its name)."""
    media_type = info.content_type if info.content_type and "/" in info.content_type else None
    if media_type in (None, "binary/octet-stream", "application/octet-stream"):
        import mimetypes

        media_type = mimetypes.guess_type(uri)[0] or "application/octet-stream"
    headers["Content-Length"] = str(info.size)
    return StreamingResponse(reader.chunks(), media_type=media_type, headers=headers)


def _thumbnail_body(uri: str, reader: Any, info: Any, headers: dict[str, str]) -> Response:
    """The object's thumbnail, from the cache or made now; 415 if the object is not an image."""
    from airflow_provider_runware.plugins import thumbnails

    key = thumbnails.cache_key(uri, info)
    found = thumbnails.cached(key)
    headers["X-Runware-Thumbnail"] = "cached" if found else "made"
    if found is None:
        try:
            found = thumbnails.make(reader, key)
        except Exception as err:
            log.warning("No thumbnail for %s: %s", uri, type(err).__name__)
            raise HTTPException(status.HTTP_415_UNSUPPORTED_MEDIA_TYPE, f"{uri} is not an image") from None
    path, media_type = found
    return FileResponse(path, media_type=media_type, headers=headers)


IMAGE = "/runs/{dag_id}/{run_id}/tasks/{task_id}/{map_index}/images/{image_index}"


@app.get(IMAGE)
def image(request: Request, stored: ResultObject) -> Response:
    return _serve(request, stored, _object_body)


@app.get(f"{IMAGE}/thumbnail")
def thumbnail(request: Request, stored: ResultObject) -> Response:
    return _serve(request, stored, _thumbnail_body)


@app.get(f"{IMAGE}/inputs/{{input_index}}")
def input_image(request: Request, stored: InputObject) -> Response:
    return _serve(request, stored, _object_body)


@app.get(f"{IMAGE}/inputs/{{input_index}}/thumbnail")
def input_thumbnail(request: Request, stored: InputObject) -> Response:
    return _serve(request, stored, _thumbnail_body)
