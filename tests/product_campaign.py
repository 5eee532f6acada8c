"""The product campaign (``example_dags/runware_product_campaign.py``) driven from outside, as a person
and a deployment would: photos uploaded to the bucket, the run triggered, the review read through
Airflow's REST API, the published folder read back.

Shared by ``make demo-products`` (``scripts/demo_products.py``) and
``tests/integration/test_browser_gallery.py``, so the demo shows exactly what the test checks.
The reviewer logs in like any user of the simple auth manager (``POST /auth/token`` with a username and
password); the JWT it gets is what the UI would hold.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx

REPO = Path(__file__).resolve().parent.parent
DAG_ID = "runware_product_campaign"
DAG_FILE = REPO / "example_dags" / "runware_product_campaign.py"
PHOTOS = sorted((REPO / "example_dags" / "data" / "products").glob("*.png"))
REVIEW_TASK = "review"
REVIEWER = "reviewer"
REVIEWER_ROLE = "user"  # the simple auth manager's "user" role may answer Human-in-the-Loop tasks
# A presigned URL's signature in any of its spellings (S3, GCS, Azure SAS), unless already masked.
SIGNATURE = re.compile(
    r"(X-Amz-Signature|X-Amz-Credential|X-Amz-Security-Token|X-Goog-Signature|X-Goog-Credential|[?&]sig)"
    r"(=|%3D)(?!\*\*\*)[A-Za-z0-9%/+_.-]{6,}",
    re.IGNORECASE,
)


def reviewer_env(home: Path, password: str) -> dict[str, str]:
    """Airflow settings for one reviewer account of the simple auth manager (its password in a file)."""
    home.mkdir(parents=True, exist_ok=True)
    passwords = home / "reviewer-passwords.json"
    passwords.write_text(json.dumps({REVIEWER: password}))
    return {
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{REVIEWER}:{REVIEWER_ROLE}",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(passwords),
    }


def aws_connection(endpoint_url: str, login: str, password: str) -> str:
    """An ``aws`` Airflow connection (JSON for ``AIRFLOW_CONN_*``) to a local S3 server."""
    extra = {"endpoint_url": endpoint_url, "region_name": "us-east-1"}
    return json.dumps({"conn_type": "aws", "login": login, "password": password, "extra": extra})


def upload_photos(s3_client: Any, bucket: str, prefix: str = "products/") -> list[str]:
    """Put the shipped product photos in the bucket, as a catalogue team would; their ``s3://`` URIs."""
    uris = []
    for photo in PHOTOS:
        s3_client.put_object(Bucket=bucket, Key=f"{prefix}{photo.name}", Body=photo.read_bytes())
        uris.append(f"s3://{bucket}/{prefix}{photo.name}")
    return uris


def campaign_conf(bucket: str, storage_conn_id: str) -> dict[str, str]:
    """The run's params: photos and outputs in ``bucket``."""
    return {
        "photos_location": f"s3://{bucket}/products/",
        "output_location": f"s3://{bucket}/product-campaign/",
        "storage_conn_id": storage_conn_id,
    }


def split_s3(uri: str) -> tuple[str, str]:
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    return bucket, key


def published_objects(s3_client: Any, bucket: str, run_id: str) -> dict[str, bytes]:
    """Every object under the run's ``published/`` folder, by name, with its bytes."""
    prefix = f"product-campaign/published/{run_id}/"
    listing = s3_client.list_objects_v2(Bucket=bucket, Prefix=prefix).get("Contents", [])
    return {
        item["Key"].removeprefix(prefix): s3_client.get_object(Bucket=bucket, Key=item["Key"])["Body"].read()
        for item in listing
    }


@dataclass
class AirflowRest:
    """Airflow's public REST API (``/api/v2``) as the reviewer: a JWT from ``POST /auth/token``."""

    base_url: str
    token: str

    @classmethod
    def login(cls, base_url: str, username: str, password: str) -> AirflowRest:
        response = httpx.post(
            f"{base_url}/auth/token", json={"username": username, "password": password}, timeout=30
        )
        response.raise_for_status()
        return cls(base_url=base_url, token=response.json()["access_token"])

    def _request(self, method: str, path: str, **kwargs: Any) -> Any:
        response = httpx.request(
            method,
            f"{self.base_url}/api/v2{path}",
            headers={"Authorization": f"Bearer {self.token}"},
            timeout=30,
            trust_env=False,
            **kwargs,
        )
        if response.is_error:
            raise AssertionError(f"{method} {path} -> {response.status_code}: {response.text[:2000]}")
        return response.json()

    @staticmethod
    def _run_path(dag_id: str, run_id: str) -> str:
        return f"/dags/{dag_id}/dagRuns/{quote(run_id, safe='')}"

    def run_state(self, dag_id: str, run_id: str) -> str:
        return str(self._request("GET", self._run_path(dag_id, run_id))["state"])

    def hitl_details(self, dag_id: str, run_id: str) -> list[dict[str, Any]]:
        """``GET .../dagRuns/{run_id}/hitlDetails``: every Human-in-the-Loop request of the run."""
        result: list[dict[str, Any]] = self._request("GET", f"{self._run_path(dag_id, run_id)}/hitlDetails")[
            "hitl_details"
        ]
        return result

    def wait_for_request(
        self,
        dag_id: str,
        run_id: str,
        task_id: str,
        timeout: float,
        on_wait: Callable[[], None] | None = None,
    ) -> dict[str, Any]:
        """The first unanswered request of ``task_id`` once its task waits for input; fails early if the
        run ends first. ``on_wait`` is called on every poll (progress output)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for detail in self.hitl_details(dag_id, run_id):
                instance = detail["task_instance"]
                if (
                    instance["task_id"] == task_id
                    and not detail["response_received"]
                    and instance["state"] == "awaiting_input"
                ):
                    return detail
            state = self.run_state(dag_id, run_id)
            if state in ("success", "failed"):
                raise AssertionError(f"{dag_id} {run_id} ended ({state}) before {task_id} asked for input")
            if on_wait is not None:
                on_wait()
            time.sleep(1)
        raise AssertionError(f"{task_id} of {dag_id} {run_id} did not ask for input within {timeout:.0f}s")

    def answer(
        self, dag_id: str, run_id: str, task_id: str, map_index: int, chosen_options: Iterable[str]
    ) -> dict[str, Any]:
        """``PATCH .../taskInstances/{task_id}/{map_index}/hitlDetails``: the reviewer's choice."""
        path = f"{self._run_path(dag_id, run_id)}/taskInstances/{task_id}/{map_index}/hitlDetails"
        body = {"chosen_options": list(chosen_options), "params_input": {}}
        result: dict[str, Any] = self._request("PATCH", path, json=body)
        return result

    def extra_links(
        self, dag_id: str, run_id: str, task_id: str, map_index: int = -1
    ) -> dict[str, str | None]:
        """``GET .../taskInstances/{task_id}/links``: the task instance's extra links, name -> URL."""
        path = f"{self._run_path(dag_id, run_id)}/taskInstances/{task_id}/links"
        result: dict[str, Any] = self._request("GET", path, params={"map_index": map_index})
        links: dict[str, str | None] = result.get("extra_links", result)
        return links

    def xcom(self, dag_id: str, run_id: str, task_id: str, map_index: int = -1) -> Any:
        """A task instance's return value, deserialized by Airflow."""
        path = f"{self._run_path(dag_id, run_id)}/taskInstances/{task_id}/xcomEntries/return_value"
        entry = self._request("GET", path, params={"map_index": map_index, "deserialize": "true"})
        value = entry["value"]
        return json.loads(value) if isinstance(value, str) else value


def wait_until_parked(
    home: Path, dag_id: str, run_id: str, task_id: str, map_index: int, timeout: float
) -> None:
    """Wait until the scheduler has seen the worker that parked ``task_id`` in ``awaiting_input`` exit.

    A person never answers within a second, a script can: Airflow 3.3.2 then re-queues the task before
    the scheduler reads the executor's "success" for the parked try, takes the queued try for one whose
    state was changed externally and marks it ``up_for_retry`` (the HITL cousin of apache/airflow#72716).
    The scheduler logs that event as ``TaskInstance Finished: ... state=awaiting_input``; once it has,
    answering is safe.
    """
    finished = re.compile(
        rf"TaskInstance Finished: dag_id={re.escape(dag_id)}, task_id={re.escape(task_id)}, "
        rf"run_id={re.escape(run_id)}, map_index={map_index}, .*?state=awaiting_input"
    )
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for log in home.glob("scheduler*.console.log"):
            if finished.search(log.read_text(errors="replace")):
                return
        time.sleep(0.5)
    raise AssertionError(f"the scheduler did not see {task_id}[{map_index}] park within {timeout:.0f}s")


def signatures_in(texts: dict[str, str]) -> dict[str, list[Any]]:
    """Where a presigned signature appears unmasked, and what it looked like."""
    found = {where: SIGNATURE.findall(text) for where, text in texts.items()}
    return {where: matches for where, matches in found.items() if matches}
