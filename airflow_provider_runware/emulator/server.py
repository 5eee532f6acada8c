"""Running the emulator under uvicorn, and announcing the URL once it accepts connections."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import uvicorn

from airflow_provider_runware.emulator.app import create_app
from airflow_provider_runware.emulator.connection import TransportExposingProtocol
from airflow_provider_runware.emulator.state import Settings

READY_MESSAGE = "Runware emulator listening on http://{host}:{port}/v1"


def build_config(settings: Settings, host: str, port: int, *, access_log: bool = False) -> uvicorn.Config:
    """Plain asyncio loop and h11: the protocol that can drop connections on request needs both."""
    return uvicorn.Config(
        create_app(settings),
        host=host,
        port=port,
        http=TransportExposingProtocol,
        loop="asyncio",
        lifespan="on",
        access_log=access_log,
        log_level="info" if access_log else "warning",
        timeout_graceful_shutdown=2,
    )


async def _serve_until_stopped(server: uvicorn.Server) -> int:
    """uvicorn exits with ``sys.exit`` when it cannot bind; turn that into a return code."""
    try:
        await server.serve()
    except SystemExit as stop:
        return stop.code if isinstance(stop.code, int) else 1
    return 0


async def serve(config: uvicorn.Config, announce: Callable[[str], None]) -> int:
    """Serve until stopped; call ``announce`` with the ready line once the socket is listening.

    Returns the exit code: 0 after a normal shutdown, non-zero when the server could not start (uvicorn
    has already logged why, e.g. the port is taken).
    """
    server = uvicorn.Server(config)
    serving = asyncio.create_task(_serve_until_stopped(server))
    while not server.started:
        if serving.done():
            return serving.result()
        await asyncio.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    announce(READY_MESSAGE.format(host=config.host, port=port))
    return await serving
