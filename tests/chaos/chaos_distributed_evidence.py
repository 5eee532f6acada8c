"""What the distributed deployment's own logs say about redeliveries and concurrent tries.

The invariants judge outcomes (paid twice? lost? failed for nothing?); these counts say whether the
situations that could cause them really happened in the run, from logs the provider does not write:
- a Celery message a worker received more than once is a **redelivery** (the broker handed a message
  that was not acknowledged in time to a worker again);
- a task start Airflow's execution API refused because the task instance was not queued (HTTP 409,
  "Cannot start Task Instance in invalid state") is a redelivered copy that never ran the task;
- a try that stopped because its ledger could not be written (the database was away) did not pay;
- two **tries** of one task instance alive at once: try N still talking to the api-server (heartbeats,
  ledger reads and writes) after try N+1 was started. Each try has its own ``ti_id``; the task logs
  map it to the task instance and try number, the api-server's access log says when it was active.
"""

from __future__ import annotations

import itertools
import json
import re
from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from chaos_evidence import ATTEMPT_LOG

RECEIVED = re.compile(r"Task \S+\[(?P<id>[0-9a-f-]{36})\] received")
REFUSED_START = "Cannot start Task Instance in invalid state"
LEDGER_REFUSED = "RunwareLedgerError"
ACCESS = re.compile(
    r"^(?P<at>\S+Z) .*method=(?P<method>\w+) "
    r"path=/execution/(?:task-instances|store/ti)/(?P<ti>[0-9a-f-]{36})(?P<rest>/\S*)? "
    r".*status_code=(?P<status>\d+)"
)


def ledger_refusals(home: Path) -> int:
    """Task tries that stopped because their ledger could not be written or read (before paying)."""
    return sum(
        LEDGER_REFUSED in path.read_text(errors="replace")
        for path in home.glob("logs/**/attempt=*.log")
        if ATTEMPT_LOG.fullmatch(path.name)
    )


def redeliveries(home: Path) -> dict[str, int]:
    """Messages received more than once, extra deliveries, and task starts refused (409)."""
    received: Counter[str] = Counter()
    for path in sorted(home.glob("worker-*.console.log")):
        received.update(match["id"] for match in RECEIVED.finditer(path.read_text(errors="replace")))
    refused = sum(
        path.read_text(errors="replace").count(REFUSED_START) for path in home.glob("api-server*.log")
    )
    return {
        "redelivered_messages": sum(1 for count in received.values() if count > 1),
        "redeliveries": sum(count - 1 for count in received.values() if count > 1),
        "refused_starts": refused,
    }


@dataclass
class Try:
    label: str
    try_number: int
    started: datetime | None = None
    last_active: datetime | None = None


def _tries(home: Path) -> dict[str, Try]:
    """ti_id -> task instance label and try number, from the first structured line of each task log."""
    tries: dict[str, Try] = {}
    for path in home.glob("logs/**/attempt=*.log"):
        for line in path.read_text(errors="replace").splitlines():
            try:
                record: Any = json.loads(line)
            except ValueError:
                continue
            if isinstance(record, dict) and record.get("ti_id") and record.get("try_number"):
                index = record.get("map_index", -1)
                label = record["task_id"] if index in (-1, None) else f"{record['task_id']}[{index}]"
                tries.setdefault(record["ti_id"], Try(label, int(record["try_number"])))
                break
    return tries


def _time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def concurrent_tries(home: Path) -> list[dict[str, Any]]:
    """Task instances whose try N was still active at the api-server after try N+1 had started."""
    tries = _tries(home)
    for path in sorted(home.glob("api-server*.log")):
        for line in path.read_text(errors="replace").splitlines():
            match = ACCESS.match(line)
            if match is None or match["ti"] not in tries or not match["status"].startswith("2"):
                continue
            current = tries[match["ti"]]
            at = _time(match["at"])
            if (match["rest"] or "") == "/run" and current.started is None:
                current.started = at
            current.last_active = max(filter(None, (current.last_active, at)))
    by_instance: dict[str, list[Try]] = {}
    for found in tries.values():
        by_instance.setdefault(found.label, []).append(found)
    overlaps = []
    for label, found in sorted(by_instance.items()):
        ordered = sorted(found, key=lambda t: t.try_number)
        for earlier, later in itertools.pairwise(ordered):
            if earlier.last_active and later.started and earlier.last_active > later.started:
                overlaps.append(
                    {
                        "task": label,
                        "tries": [earlier.try_number, later.try_number],
                        "seconds": round((earlier.last_active - later.started).total_seconds(), 1),
                    }
                )
    return overlaps
