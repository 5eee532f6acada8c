"""What the distributed deployment's own logs say about redeliveries and concurrent tries.

The invariants judge outcomes (paid twice? lost? failed for nothing?); these counts say whether the
situations that could cause them really happened in the run, from logs the provider does not write:
- a Celery message a worker received more than once is a **redelivery** (the broker handed a message
  that was not acknowledged in time to a worker again);
- a task start Airflow's execution API refused (HTTP 409: the task instance is not queued; HTTP 403: the
  workload's token expired) is a redelivered copy that never ran the task;
- a try that stopped because its ledger could not be written (the database was away) did not pay;
- two **tries** of one task instance alive at once: try N's task process still writing its log after
  try N+1's task process started (each try's lines carry its ``ti_id``).
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
# The execution API refusing a task start: 409 (the task instance is not queued) or 403 (the workload's
# token has expired by the time a redelivered copy presents it).
REFUSED_START = re.compile(
    r"path=/execution/task-instances/[0-9a-f-]{36}/run query=\S* status_code=(?:403|409)"
)
LEDGER_REFUSED = "RunwareLedgerError"


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
        len(REFUSED_START.findall(path.read_text(errors="replace"))) for path in home.glob("api-server*.log")
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
    first: datetime
    last: datetime


def _time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _tries(home: Path) -> list[Try]:
    """Each try's first and last line written by its task process (the lines that carry its ti_id:
    a redelivered copy that Airflow refused to start writes none)."""
    tries = []
    for path in home.glob("logs/**/attempt=*.log"):
        if not ATTEMPT_LOG.fullmatch(path.name):
            continue
        found: Try | None = None
        for line in path.read_text(errors="replace").splitlines():
            try:
                record: Any = json.loads(line)
            except ValueError:
                continue
            if not isinstance(record, dict) or not record.get("ti_id") or not record.get("timestamp"):
                continue
            at = _time(record["timestamp"])
            if found is None:
                index = record.get("map_index", -1)
                label = record["task_id"] if index in (-1, None) else f"{record['task_id']}[{index}]"
                found = Try(label, int(record.get("try_number") or 0), at, at)
            found.first, found.last = min(found.first, at), max(found.last, at)
        if found is not None:
            tries.append(found)
    return tries


def concurrent_tries(home: Path) -> list[dict[str, Any]]:
    """Task instances whose try N was still running (writing its log) after try N+1 had started."""
    by_instance: dict[str, list[Try]] = {}
    for found in _tries(home):
        by_instance.setdefault(found.label, []).append(found)
    overlaps = []
    for label, found in sorted(by_instance.items()):
        for earlier, later in itertools.pairwise(sorted(found, key=lambda t: t.try_number)):
            if earlier.last > later.first:
                overlaps.append(
                    {
                        "task": label,
                        "tries": [earlier.try_number, later.try_number],
                        "seconds": round((earlier.last - later.first).total_seconds(), 1),
                    }
                )
    return overlaps
