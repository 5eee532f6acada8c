"""Seeded random faults: a steady drizzle of what goes wrong between a client and Runware, for chaos runs.

Scripted faults (``faults.py``) say exactly what happens next; this mode says how often. With a rate r,
every API POST draws from a seeded RNG and with probability r gets one fault from a weighted mix; every
upload PUT draws from a second stream with its own, smaller rate. Each POST (and each upload) uses the
same number of random values whatever it draws, so the same seed and the same order of requests give
the same faults, and a failing campaign can be replayed. Uploads have their own stream because their
order depends on generation timing, which must not shift the faults the API requests get.

Transport faults (HTTP 429/5xx, dropped connections, malformed bodies) refuse the request before any
task in it runs: nothing is generated or billed, as on Runware. The others let it through: a slow
answer, a queue delay (its images take longer), a failed generation (one task's image fails and is not
billed), and, at upload time, a failed upload (the image was generated and billed but not stored).
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

HTTP_KINDS = ("http_429", "http_500", "http_502", "http_503", "http_504")
TRANSPORT_KINDS = (*HTTP_KINDS, "drop", "malformed")
# Kinds that only make sense for a POST that submits images.
INFERENCE_KINDS = ("queue_delay", "fail_generation")
POST_KINDS = (*TRANSPORT_KINDS, "slow", *INFERENCE_KINDS)
UPLOAD_KIND = "upload_fail"

# Image-only kinds weigh more: far fewer POSTs submit images than poll for them.
DEFAULT_WEIGHTS: Mapping[str, float] = {
    "http_429": 2,
    "http_500": 1,
    "http_502": 1,
    "http_503": 2,
    "http_504": 1,
    "drop": 2,
    "malformed": 1,
    "slow": 2,
    "queue_delay": 3,
    "fail_generation": 3,
}
# Upload faults end a task for good (the image is paid for and cannot be regenerated for free), so by
# default they are a tenth as frequent as API faults.
UPLOAD_RATE_SHARE = 0.1
UPLOAD_STATUSES = (403, 500, 503)
RETRY_AFTER_CHOICES = (1, 2)
DEFAULT_SLOW_SECONDS = (1.0, 4.0)
DEFAULT_QUEUE_DELAY_SECONDS = (2.0, 8.0)
# Values drawn per POST: fire?, which kind, Retry-After variant, taskUUID variant (and target), magnitude.
VALUES_PER_POST = 5
VALUES_PER_UPLOAD = 2


class RandomFaultConfigError(ValueError):
    """A random-fault configuration that cannot work; the control API answers it with HTTP 400."""


def _probability(raw: Mapping[str, Any], name: str, default: float | None = None) -> float:
    value = raw.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
        raise RandomFaultConfigError(f"{name} must be a number between 0 and 1, got {value!r}")
    return float(value)


def _bounds(raw: Mapping[str, Any], name: str, default: tuple[float, float]) -> tuple[float, float]:
    value = raw.get(name, default)
    if (
        not isinstance(value, Sequence)
        or len(value) != 2
        or not all(isinstance(v, int | float) and not isinstance(v, bool) and v >= 0 for v in value)
        or value[0] > value[1]
    ):
        raise RandomFaultConfigError(f"{name} must be [min, max] seconds with 0 <= min <= max, got {value!r}")
    return float(value[0]), float(value[1])


def _weights(raw: Mapping[str, Any]) -> dict[str, float]:
    value = raw.get("weights")
    if value is None:
        return dict(DEFAULT_WEIGHTS)
    if not isinstance(value, Mapping):
        raise RandomFaultConfigError("weights must be an object of kind -> weight")
    unknown = set(value) - set(POST_KINDS)
    if unknown:
        raise RandomFaultConfigError(
            f"unknown random fault kinds {sorted(unknown)}; known kinds: {', '.join(POST_KINDS)}"
        )
    weights = {kind: value.get(kind, 0) for kind in POST_KINDS}
    if any(isinstance(w, bool) or not isinstance(w, int | float) or w < 0 for w in weights.values()):
        raise RandomFaultConfigError(f"weights must be non-negative numbers, got {dict(value)!r}")
    return {kind: float(weight) for kind, weight in weights.items()}


@dataclass(frozen=True)
class RandomFaultConfig:
    """How often and which faults; ``weights`` names the kinds in play (others get weight 0)."""

    rate: float
    seed: int = 0
    upload_rate: float = 0.0
    weights: Mapping[str, float] = field(default_factory=lambda: dict(DEFAULT_WEIGHTS))
    slow_seconds: tuple[float, float] = DEFAULT_SLOW_SECONDS
    queue_delay_seconds: tuple[float, float] = DEFAULT_QUEUE_DELAY_SECONDS

    @classmethod
    def of(cls, rate: float, seed: int, upload_rate: float | None = None) -> RandomFaultConfig:
        """The CLI's configuration: default mix, uploads at a tenth of the rate unless told."""
        return cls.from_json({"rate": rate, "seed": seed, "upload_rate": upload_rate})

    @classmethod
    def from_json(cls, raw: Any) -> RandomFaultConfig:
        """Check a posted configuration; raise :class:`RandomFaultConfigError` saying what is wrong."""
        if not isinstance(raw, Mapping):
            raise RandomFaultConfigError("expected an object such as {'rate': 0.3, 'seed': 7}")
        unknown = set(raw) - {"rate", "seed", "upload_rate", "weights", "slow_seconds", "queue_delay_seconds"}
        if unknown:
            raise RandomFaultConfigError(f"unknown random fault settings {sorted(unknown)}")
        rate = _probability(raw, "rate")
        seed = raw.get("seed", 0)
        if isinstance(seed, bool) or not isinstance(seed, int):
            raise RandomFaultConfigError(f"seed must be an integer, got {seed!r}")
        if raw.get("upload_rate") is None:
            upload_rate = rate * UPLOAD_RATE_SHARE
        else:
            upload_rate = _probability(raw, "upload_rate")
        return cls(
            rate=rate,
            seed=seed,
            upload_rate=upload_rate,
            weights=_weights(raw),
            slow_seconds=_bounds(raw, "slow_seconds", DEFAULT_SLOW_SECONDS),
            queue_delay_seconds=_bounds(raw, "queue_delay_seconds", DEFAULT_QUEUE_DELAY_SECONDS),
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "rate": self.rate,
            "seed": self.seed,
            "upload_rate": self.upload_rate,
            "weights": {kind: weight for kind, weight in self.weights.items() if weight > 0},
            "slow_seconds": list(self.slow_seconds),
            "queue_delay_seconds": list(self.queue_delay_seconds),
        }


@dataclass(frozen=True)
class Draw:
    """The random values one POST consumed, drawn when it arrived (before its body was read)."""

    fire: float
    kind: float
    retry_after: float
    variant: float
    magnitude: float


@dataclass(frozen=True)
class Injection:
    """The fault one POST gets."""

    kind: str
    retry_after: int | None = None
    names_task: bool = False
    seconds: float = 0.0
    target: int = 0

    @property
    def status(self) -> int | None:
        return int(self.kind.removeprefix("http_")) if self.kind in HTTP_KINDS else None

    @property
    def refuses(self) -> bool:
        """Transport faults answer instead of the tasks: nothing in the POST runs."""
        return self.kind in TRANSPORT_KINDS


@dataclass(frozen=True)
class TaskEffects:
    """What an accepted imageInference task suffers: a longer queue, or its first image failing."""

    kind: str
    queue_delay: float = 0.0
    fail_index: int | None = None


def _scale(value: float, bounds: tuple[float, float]) -> float:
    low, high = bounds
    return round(low + (high - low) * value, 3)


class RandomFaults:
    """The live random-fault mode of one emulator: its RNG streams, counts and pending task effects."""

    def __init__(self, config: RandomFaultConfig) -> None:
        self.config = config
        # String seeds hash with SHA-512 in `random`, independent of PYTHONHASHSEED: reproducible.
        self._posts = random.Random(f"runware-emulator:{config.seed}:posts")
        self._uploads = random.Random(f"runware-emulator:{config.seed}:uploads")
        self.posts_drawn = 0
        self.uploads_drawn = 0
        self.injected: Counter[str] = Counter()
        self.variants: Counter[str] = Counter()
        self._pending: dict[str, TaskEffects] = {}

    def draw(self) -> Draw:
        """One POST's values; call it synchronously when the request arrives, so order is arrival order."""
        self.posts_drawn += 1
        return Draw(*(self._posts.random() for _ in range(VALUES_PER_POST)))

    def resolve(self, draw: Draw, inference_tasks: int) -> Injection | None:
        """The fault for a POST with ``inference_tasks`` imageInference tasks, or ``None``."""
        if draw.fire >= self.config.rate:
            return None
        allowed = [
            (kind, weight)
            for kind, weight in self.config.weights.items()
            if weight > 0 and (inference_tasks > 0 or kind not in INFERENCE_KINDS)
        ]
        if not allowed:
            return None
        point = draw.kind * sum(weight for _, weight in allowed)
        kind = allowed[-1][0]
        for candidate, weight in allowed:
            if point < weight:
                kind = candidate
                break
            point -= weight
        retry_after = None
        if kind in HTTP_KINDS and draw.retry_after < 0.5:
            retry_after = RETRY_AFTER_CHOICES[int(draw.retry_after * 2 * len(RETRY_AFTER_CHOICES))]
        bounds = self.config.slow_seconds if kind == "slow" else self.config.queue_delay_seconds
        return Injection(
            kind=kind,
            retry_after=retry_after,
            names_task=kind in HTTP_KINDS and draw.variant < 0.5,
            seconds=_scale(draw.magnitude, bounds) if kind in ("slow", "queue_delay") else 0.0,
            target=min(int(draw.variant * inference_tasks), max(inference_tasks - 1, 0)),
        )

    def count(self, injection: Injection) -> None:
        """Count a fault that was applied (transport faults and slow answers, once per POST)."""
        self.injected[injection.kind] += 1
        if injection.retry_after is not None:
            self.variants["retry_after"] += 1
        if injection.names_task:
            self.variants["names_task"] += 1

    def mark(self, task_uuids: Sequence[str], injection: Injection) -> None:
        """Attach a queue delay (every task of the POST) or a failed generation (one task) to tasks
        not yet accepted; they take effect only if the task is accepted as new (see :meth:`claim`)."""
        if injection.kind == "queue_delay":
            for task_uuid in task_uuids:
                self._pending[task_uuid] = TaskEffects(injection.kind, queue_delay=injection.seconds)
        elif injection.kind == "fail_generation" and task_uuids:
            self._pending[task_uuids[injection.target]] = TaskEffects(injection.kind, fail_index=0)

    def claim(self, task_uuid: str) -> TaskEffects | None:
        """Effects for a task the emulator just accepted; counted here, since they now surely apply."""
        effects = self._pending.pop(task_uuid, None)
        if effects is not None:
            self.injected[effects.kind] += 1
        return effects

    def release(self, task_uuids: Sequence[str]) -> None:
        """Forget effects of tasks a POST did not get accepted (refused, or a conflictTaskUUID)."""
        for task_uuid in task_uuids:
            self._pending.pop(task_uuid, None)

    def draw_upload(self) -> int | None:
        """The HTTP status to refuse one upload PUT with, or ``None`` to let it through."""
        self.uploads_drawn += 1
        fire, which = (self._uploads.random() for _ in range(VALUES_PER_UPLOAD))
        if fire >= self.config.upload_rate:
            return None
        self.injected[UPLOAD_KIND] += 1
        return UPLOAD_STATUSES[int(which * len(UPLOAD_STATUSES))]

    def stats(self) -> dict[str, Any]:
        return {
            "enabled": True,
            **self.config.to_json(),
            "posts": self.posts_drawn,
            "uploads": self.uploads_drawn,
            "injected": dict(sorted(self.injected.items())),
            "total": sum(self.injected.values()),
            "variants": dict(sorted(self.variants.items())),
        }
