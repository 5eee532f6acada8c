"""Dropping a connection without answering, which ASGI alone cannot express.

Raising from an ASGI app makes uvicorn send a 500, which is an answer. To close the socket with no
response at all, the emulator runs uvicorn with a protocol that hands each request its transport (in
the ASGI ``state``); the app then closes it. Under any other server the fallback aborts the response
after its headers, which clients also see as a broken connection.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from uvicorn.protocols.http.h11_impl import H11Protocol

TRANSPORT_KEY = "runware_emulator.transport"


class TransportExposingProtocol(H11Protocol):
    """uvicorn's h11 protocol, plus the connection's transport in every request's ASGI state."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self.app_state = {**self.app_state, TRANSPORT_KEY: transport}


async def _broken_body() -> AsyncIterator[bytes]:
    raise ConnectionAbortedError("emulated dropped connection")
    yield b""  # pragma: no cover - makes this an async generator


async def drop_connection(request: Request) -> Response:
    """Close the client's socket before any byte of a response; returns a response nobody receives."""
    transport = request.scope.get("state", {}).get(TRANSPORT_KEY)
    if not isinstance(transport, asyncio.BaseTransport):
        return StreamingResponse(_broken_body(), media_type="application/json")
    transport.close()
    # uvicorn reports the disconnect through receive(); after it, sends are silently ignored.
    with contextlib.suppress(asyncio.TimeoutError):
        await asyncio.wait_for(request.receive(), timeout=1.0)
    return Response(status_code=500)
