"""Outbound delivery the way Runware does it: a bare PUT of the file to ``uploadEndpoint`` and a JSON
POST to ``webhookURL``.

The PUT carries no extra headers on purpose (no Content-Type, no Azure ``x-ms-blob-type``): targets that
need more must fail here exactly as they would against the real service.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx


@dataclass(frozen=True)
class DeliveryResult:
    """What happened to one outbound call; ``status`` is ``None`` when no HTTP answer came back."""

    status: int | None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300

    def describe(self) -> str:
        return f"HTTP {self.status}" if self.status is not None else str(self.error)


def without_query(url: str) -> str:
    """The target as logged: presigned signatures and webhook tokens live in the query string."""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))


def new_client(timeout: float) -> httpx.AsyncClient:
    """One client for all deliveries; proxies from the environment must not reroute test traffic."""
    return httpx.AsyncClient(timeout=timeout, trust_env=False, follow_redirects=False)


async def put_upload(client: httpx.AsyncClient, url: str, data: bytes) -> DeliveryResult:
    try:
        response = await client.put(url, content=data)
    except httpx.HTTPError as error:
        return DeliveryResult(None, f"{type(error).__name__}: {error}")
    return DeliveryResult(response.status_code)


async def post_webhook(client: httpx.AsyncClient, url: str, payload: dict[str, Any]) -> DeliveryResult:
    try:
        response = await client.post(url, json=payload)
    except httpx.HTTPError as error:
        return DeliveryResult(None, f"{type(error).__name__}: {error}")
    return DeliveryResult(response.status_code)
