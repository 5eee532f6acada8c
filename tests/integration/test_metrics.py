"""The provider's Airflow metrics, as a StatsD server receives them from a real DAG run.

``dag.test()`` runs ``runware_metrics`` (tests/dags) against the emulator and moto, with Airflow's
metrics configured the way a deployment switches StatsD on (``AIRFLOW__METRICS__STATSD_*``); this test
is the StatsD server: a UDP socket on 127.0.0.1. InfluxDB-style tags are on, so the lines show both
forms the provider sends: the name with its tags, and the name that carries task type and model for
plain StatsD. The expected numbers come from the run's XComs, never from the provider's code.
"""

from __future__ import annotations

import os
import socket
import threading
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from airflow_runs import run_dag
from emulator_handle import EmulatorHandle

DAG_ID = "runware_metrics"
PREFIX = "airflow."


def start_airflow_stats() -> None:
    """Build Airflow's Stats backend from the ``[metrics]`` configuration, as a worker does when it
    starts (this test's process started before the configuration named the StatsD server)."""
    try:
        from airflow.sdk.observability import stats
        from airflow.sdk.observability.metrics import stats_utils
    except ImportError:  # Airflow 3.0 and 3.1: a metaclass picks the backend when first used
        from airflow.stats import Stats

        meta = type(Stats)
        if "factory" in vars(meta):
            delattr(meta, "factory")
        Stats.instance = None
        meta.__init__(Stats)  # type: ignore[misc]
        return
    if hasattr(stats, "initialize"):  # 3.3
        stats.initialize(factory=stats_utils.get_stats_factory(), export_legacy_names=True)
    else:  # 3.2
        stats.Stats.initialize(factory=stats_utils.get_stats_factory(stats.Stats))


@dataclass
class StatsdServer:
    """A UDP socket that keeps every datagram: one StatsD line each."""

    sock: socket.socket
    lines: list[str] = field(default_factory=list)

    @property
    def port(self) -> int:
        port: int = self.sock.getsockname()[1]
        return port

    def receive(self) -> None:
        while True:
            try:
                data = self.sock.recv(65535)
            except OSError:
                return
            self.lines.extend(data.decode().splitlines())


@pytest.fixture
def statsd() -> Iterator[StatsdServer]:
    """The StatsD server, and Airflow configured to send it its metrics (undone afterwards)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    server = StatsdServer(sock)
    thread = threading.Thread(target=server.receive, daemon=True)
    thread.start()
    config = {
        "AIRFLOW__METRICS__STATSD_ON": "True",
        "AIRFLOW__METRICS__STATSD_HOST": "127.0.0.1",
        "AIRFLOW__METRICS__STATSD_PORT": str(server.port),
        "AIRFLOW__METRICS__STATSD_PREFIX": PREFIX.rstrip("."),
        "AIRFLOW__METRICS__STATSD_INFLUXDB_ENABLED": "True",
    }
    os.environ.update(config)
    start_airflow_stats()
    try:
        yield server
    finally:
        for name in config:
            os.environ.pop(name, None)
        start_airflow_stats()
        sock.close()
        thread.join(timeout=5)


@dataclass(frozen=True)
class Line:
    """``airflow.runware.results.generated,task_type=...,model=...:3|c`` taken apart."""

    name: str
    tags: tuple[tuple[str, str], ...]
    value: float
    kind: str

    @classmethod
    def parse(cls, text: str) -> Line:
        stat, _, rest = text.rpartition(":")
        value, kind = rest.split("|")[:2]
        name, *pairs = stat.split(",")
        tags = tuple(tuple(pair.split("=", 1)) for pair in pairs)
        return cls(name.removeprefix(PREFIX), tags, float(value), kind)  # type: ignore[arg-type]

    @property
    def tag(self) -> dict[str, str]:
        return dict(self.tags)


def runware_lines(statsd: StatsdServer) -> list[Line]:
    return [Line.parse(text) for text in statsd.lines if text.startswith(f"{PREFIX}runware.")]


def label(value: Any) -> str:
    """The AIR id as a metric name part: what the docs promise (``openai:2@2`` -> ``openai_2_2``)."""
    return "".join(c if c.isalnum() or c in "_-" else "_" for c in str(value)) if value else "unknown"


def micros(records: list[dict[str, Any]]) -> int:
    return sum(round(record["cost"] * 1_000_000) for record in records)


def test_a_run_sends_each_result_once_with_its_cost_per_model_and_task_type(
    airflow: EmulatorHandle,
    statsd: StatsdServer,
    s3_bucket: str,
    aws_conn: str,
) -> None:
    # The sensor's two images finish 10 s after submission: its first check finds them running and it
    # defers; the trigger polls from 8 s after that (DEFERRAL_RACE_MARGIN), so the delay costs little.
    # One of the operator's three images fails: try 1 stores two, try 2 reuses them and generates the
    # third again.
    airflow.fault(kind="queue_delay", seconds=10, count=2)
    airflow.fault(kind="fail_generation", count=1, model="openai:2@2", code="inferenceError")
    conf = {"output_location": f"s3://{s3_bucket}/metrics/", "storage_conn_id": aws_conn}
    outcome = run_dag("runware_metrics.py", DAG_ID, conf=conf)
    assert outcome.state == "success", outcome.tasks
    assert outcome.tasks["images"] == ("success", 2)
    assert outcome.tasks["wait"][0] == "success"
    (submitted,) = outcome.xcom("submit")
    polls = Counter(entry["taskUUID"] for entry in airflow.requests("api", task_type="getResponse"))
    assert all(polls[task_uuid] >= 2 for task_uuid in submitted), "the first check found them running"

    (images,), (sensed,), (video,), (texts,) = (
        outcome.xcom(t) for t in ("images", "wait", "video", "enhance")
    )
    assert (len(images), len(sensed), len(video), len(texts)) == (3, 2, 1, 2)
    image_model, video_model, text_model = (label(r[0]["model"]) for r in (images, video, texts))
    assert image_model == "openai_2_2"
    assert video_model == "klingai_kling-video_3-standard"
    lines = runware_lines(statsd)

    # Plain StatsD (no tags): the names that carry task type and model.
    untagged = Counter[str]()
    for line in lines:
        if line.kind == "c" and not line.tags:
            untagged[line.name] += int(line.value)
    assert dict(untagged) == {
        f"runware.results.generated.imageInference.{image_model}": 3,
        f"runware.results.failed.imageInference.{image_model}": 1,
        f"runware.results.reused.imageInference.{image_model}": 2,
        "runware.results.generated.imageInference.google_2_3": 2,
        f"runware.results.generated.videoInference.{video_model}": 1,
        f"runware.results.generated.promptEnhance.{text_model}": 2,
        f"runware.cost_usd_micros.imageInference.{image_model}": micros(images),
        "runware.cost_usd_micros.imageInference.google_2_3": micros(sensed),
        f"runware.cost_usd_micros.videoInference.{video_model}": micros(video),
        **({f"runware.cost_usd_micros.promptEnhance.{text_model}": micros(texts)} if micros(texts) else {}),
    }
    assert micros(images) == 3 * 16_000, "each image billed once: two in try 1, the third in try 2"

    # Tagged names: the same sums under one name per metric, split by tags.
    tagged: dict[tuple[str, str, str], int] = defaultdict(int)
    for line in lines:
        if line.kind == "c" and line.tags:
            tag = line.tag
            assert set(tag) == {"task_type", "model", "dag_id", "task_id"}, line
            assert tag["dag_id"] == DAG_ID
            task_id = {
                ("imageInference", image_model): "images",
                ("imageInference", "google_2_3"): "wait",  # submit's model, from its record
                ("videoInference", video_model): "video",
                ("promptEnhance", text_model): "enhance",
            }[(tag["task_type"], tag["model"])]
            assert tag["task_id"] == task_id, line
            tagged[(line.name, tag["task_type"], tag["model"])] += int(line.value)
    assert {f"{name}.{task_type}.{model}": n for (name, task_type, model), n in tagged.items()} == dict(
        untagged
    )

    # Seconds from submission to stored: one timer per result whose submission the task made.
    timers = Counter(line.name for line in lines if line.kind == "ms" and not line.tags)
    assert dict(timers) == {
        f"runware.results.time_to_stored.imageInference.{image_model}": 3,
        f"runware.results.time_to_stored.videoInference.{video_model}": 1,
        f"runware.results.time_to_stored.promptEnhance.{text_model}": 2,
    }
    assert all(line.value >= 0 for line in lines if line.kind == "ms")
    assert len([line for line in lines if line.kind == "ms" and line.tags]) == 6


def test_a_sensor_on_task_uuids_from_another_run_tags_its_metrics_model_unknown(
    airflow: EmulatorHandle, statsd: StatsdServer
) -> None:
    submitted = run_dag("runware_metrics.py", "runware_submit_only")
    (uuids,) = submitted.xcom("submit")
    outcome = run_dag("runware_metrics.py", "runware_sense_elsewhere", conf={"task_uuids": ",".join(uuids)})
    assert outcome.state == "success", outcome.tasks
    (record,) = outcome.xcom("wait", key="runware_results")
    assert sorted(r["task_uuid"] for r in record["results"]) == sorted(uuids)
    assert not [r["model"] for r in record["results"] if "model" in r], "no made-up model"
    generated = [
        line for line in runware_lines(statsd) if line.name == "runware.results.generated" and line.tags
    ]
    assert [(line.tag["task_id"], line.tag["model"], line.value) for line in generated] == [
        ("wait", "unknown", 2.0)
    ]
