"""Everything the emulator remembers, in memory: tasks, images, the request log, faults, the balance.

All mutation happens on the event loop thread (only image encoding runs in worker threads and it
touches no state), so no locks are needed.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Coroutine
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import httpx

from airflow_provider_runware.emulator.chaos import RandomFaultConfig, RandomFaults, TaskEffects
from airflow_provider_runware.emulator.delivery import new_client
from airflow_provider_runware.emulator.faults import FaultBook
from airflow_provider_runware.emulator.modes import Modes

STARTING_BALANCE_USD = 100.0
DEFAULT_TTL_SECONDS = 7 * 24 * 3600
MAX_STORED_IMAGES = 2000
# A video takes this many times as long as a task's images (--generation-seconds): 30 s by default,
# tens of seconds as on Runware, and a test that speeds images up speeds videos up too.
VIDEO_SLOWDOWN = 100


@dataclass(frozen=True)
class Settings:
    """Start-up options (the CLI flags); ``reset`` keeps them."""

    api_key: str | None = None
    latency: float = 0.0
    generation_seconds: float = 0.3
    # None: VIDEO_SLOWDOWN times generation_seconds.
    video_seconds: float | None = None
    default_ttl: int = DEFAULT_TTL_SECONDS
    starting_balance: float = STARTING_BALANCE_USD
    delivery_timeout: float = 30.0
    sync_timeout_seconds: float = 1.0
    today: date | None = None
    error_shape: str = "nested"
    balance_shape: str = "object"
    webhook_attempts: int = 3
    webhook_retry_seconds: float = 0.2

    random_faults: RandomFaultConfig | None = None

    @property
    def effective_video_seconds(self) -> float:
        """How long one videoInference task's videos take in all."""
        if self.video_seconds is not None:
            return self.video_seconds
        return self.generation_seconds * VIDEO_SLOWDOWN

    def initial_modes(self) -> Modes:
        return Modes(today=self.today, error_shape=self.error_shape, balance_shape=self.balance_shape)


@dataclass
class ImageRecord:
    """One rendered file, served under ``/images/{image_uuid}.{extension}`` (a video under
    ``/videos/...``) until it expires."""

    image_uuid: str
    data: bytes
    media_type: str
    extension: str
    expires_at: float


@dataclass
class TaskRecord:
    """One accepted task that produces results (images, videos or texts) and every result or error it
    has produced so far. ``default_delivery`` is the task type's ``deliveryMethod`` when the request
    names none (``async`` for videoInference, ``sync`` for the others)."""

    task_uuid: str
    request: dict[str, Any]
    expected: int
    public_root: str
    created_at: float
    results: list[dict[str, Any]] = field(default_factory=list)
    errors: list[dict[str, Any]] = field(default_factory=list)
    error_statuses: list[int] = field(default_factory=list)
    finished: asyncio.Event = field(default_factory=asyncio.Event)
    effects: TaskEffects | None = None
    # Input images already fetched for this task (its images share them), keyed by parameter and value.
    inputs: dict[str, Any] = field(default_factory=dict)
    default_delivery: str = "sync"

    @property
    def task_type(self) -> str:
        return str(self.request.get("taskType", "imageInference"))

    @property
    def delivery_method(self) -> str:
        return str(self.request.get("deliveryMethod", self.default_delivery))

    @property
    def done(self) -> bool:
        return self.finished.is_set()

    @property
    def status(self) -> str:
        if not self.done:
            return "processing"
        return "error" if self.errors and not self.results else "success"


def _random_faults(settings: Settings) -> RandomFaults | None:
    """The start-up random-fault mode, with fresh RNG streams (so a reset replays the same faults)."""
    return RandomFaults(settings.random_faults) if settings.random_faults is not None else None


class EmulatorState:
    """The emulator's memory; one instance per app."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.faults = FaultBook()
        self.chaos = _random_faults(settings)
        self.tasks: dict[str, TaskRecord] = {}
        self.images: dict[str, ImageRecord] = {}
        self.log: list[dict[str, Any]] = []
        self.posts_received = 0
        self.jobs: set[asyncio.Task[None]] = set()
        self.clock_offset = 0.0
        self.balance = settings.starting_balance
        self.usage: dict[str, float] = {"tasks": 0, "imagesGenerated": 0, "totalCostUSD": 0.0}
        self._http: httpx.AsyncClient | None = None
        self.session_uuid = str(uuid.uuid4())
        self.modes = settings.initial_modes()

    @property
    def http(self) -> httpx.AsyncClient:
        """The client for uploads and webhooks, made on first use inside the running loop."""
        if self._http is None:
            self._http = new_client(self.settings.delivery_timeout)
        return self._http

    async def close(self) -> None:
        """Stop background jobs and release the delivery client (at server shutdown)."""
        for job in list(self.jobs):
            job.cancel()
        if self._http is not None:
            await self._http.aclose()
            self._http = None

    def now(self) -> float:
        """Wall-clock time plus the offset tests add through ``/_emulator/clock`` (to expire ttl)."""
        return time.time() + self.clock_offset

    def reset(self) -> None:
        """Forget everything a test did; start-up settings stay."""
        for job in list(self.jobs):
            job.cancel()
        self.jobs.clear()
        self.faults.clear()
        self.chaos = _random_faults(self.settings)
        self.tasks.clear()
        self.images.clear()
        self.log.clear()
        self.posts_received = 0
        self.clock_offset = 0.0
        self.balance = self.settings.starting_balance
        self.usage = {"tasks": 0, "imagesGenerated": 0, "totalCostUSD": 0.0}
        self.modes = self.settings.initial_modes()

    def next_post(self) -> int:
        """Number the POSTs to /v1, so tests can tell how many tasks shared one request (batching)."""
        self.posts_received += 1
        return self.posts_received

    def record(self, kind: str, **entry: Any) -> dict[str, Any]:
        """Append one entry to the request log (``/_emulator/requests``) and return it."""
        logged = {"kind": kind, **entry, "at": time.time()}
        self.log.append(logged)
        return logged

    def spawn(self, coroutine: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        """Run a background job, keeping a strong reference so it is neither collected nor orphaned."""
        job = asyncio.get_running_loop().create_task(coroutine)
        self.jobs.add(job)
        job.add_done_callback(self.jobs.discard)
        return job

    def charge(self, cost: float) -> None:
        self.balance = round(self.balance - cost, 6)
        self.usage["imagesGenerated"] += 1
        self.usage["totalCostUSD"] = round(self.usage["totalCostUSD"] + cost, 6)

    def store_image(self, image: ImageRecord) -> None:
        self.images[image.image_uuid] = image
        while len(self.images) > MAX_STORED_IMAGES:
            del self.images[next(iter(self.images))]

    def live_image(self, image_uuid: str) -> ImageRecord | None:
        image = self.images.get(image_uuid)
        if image is None or image.expires_at <= self.now():
            return None
        return image

    def expire_images(self) -> None:
        for image in self.images.values():
            image.expires_at = float("-inf")
