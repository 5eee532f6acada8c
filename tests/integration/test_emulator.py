"""The emulator speaks Runware's protocol: delivery methods, outputs, accounting, auth, errors, uploads,
webhooks and every scriptable fault, checked over real HTTP against the emulator subprocess."""

from __future__ import annotations

import base64
import io
import json
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from bad_inputs import UNKNOWN_MODEL, valid_task
from emulator_handle import EmulatorHandle
from PIL import Image

pytestmark = pytest.mark.integration

EXAMPLES_FILE = Path(__file__).parent.parent / "data" / "dalle2_examples.json"
EXAMPLES = json.loads(EXAMPLES_FILE.read_text())["examples"]
OUTPUT_FIELDS = ("imageURL", "imageBase64Data", "imageDataURI")
PILLOW_FORMATS = {"JPG": "JPEG", "PNG": "PNG", "WEBP": "WEBP"}
MEDIA_TYPES = {"JPG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp"}
# What a DALL·E 2 image costs by size, from sources that are not our catalog: OpenAI's list prices
# ($0.016 / $0.018 / $0.020), which the model page's own examples confirm at 1024x1024 (cost 0.02).
DALLE2_PRICE = {256: 0.016, 512: 0.018, 1024: 0.02}


# ----- helpers ------------------------------------------------------------------------------------


def is_uuid_v4(value: str) -> bool:
    return uuid.UUID(value).version == 4 and str(uuid.UUID(value)) == value


def fetch(url: str) -> httpx.Response:
    return httpx.get(url, timeout=10.0, trust_env=False)


def open_image(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


def poll(runware: EmulatorHandle, *task_uuids: str) -> httpx.Response:
    return runware.post([{"taskType": "getResponse", "taskUUID": task_uuid} for task_uuid in task_uuids])


def statuses(body: dict[str, Any]) -> list[str]:
    return [item.get("status") for item in body.get("data", [])] + [
        e.get("status") for e in body.get("errors", [])
    ]


def wait_until_done(runware: EmulatorHandle, task_uuid: str, timeout: float = 10.0) -> dict[str, Any]:
    """Poll getResponse every 50 ms until nothing is processing; the last body."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        body: dict[str, Any] = poll(runware, task_uuid).json()
        if not {"processing", "pending"} & set(statuses(body)):
            return body
        time.sleep(0.05)
    raise AssertionError(f"task {task_uuid} still processing after {timeout}s")


def successes(body: dict[str, Any]) -> list[dict[str, Any]]:
    return [item for item in body.get("data", []) if item.get("status") == "success"]


def async_task(**overrides: Any) -> dict[str, Any]:
    return valid_task(deliveryMethod="async", **overrides)


@dataclass(frozen=True)
class Received:
    method: str
    path: str
    query: str
    headers: dict[str, str]
    body: bytes
    at: float


@dataclass
class Receiver:
    """A loopback HTTP server standing in for a bucket or a webhook endpoint: answers ``status`` after
    ``delay`` seconds and keeps a copy of every request."""

    status: int = 200
    delay: float = 0.0
    received: list[Received] = field(default_factory=list)

    def __post_init__(self) -> None:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def _record(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                parts = urlsplit(self.path)
                headers = {key.lower(): value for key, value in self.headers.items()}
                body = self.rfile.read(length)
                receiver.received.append(
                    Received(self.command, parts.path, parts.query, headers, body, time.monotonic())
                )
                time.sleep(receiver.delay)
                self.send_response(receiver.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            do_PUT = _record
            do_POST = _record

            def log_message(self, format: str, *args: object) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    target = Receiver()
    thread = threading.Thread(target=target.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield target
    target.server.shutdown()
    target.server.server_close()


# ----- delivery -----------------------------------------------------------------------------------


def test_sync_request_returns_the_images(runware: EmulatorHandle) -> None:
    task = valid_task()
    response = runware.post([task])

    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    [item] = response.json()["data"]
    assert item["taskType"] == "imageInference"
    assert item["taskUUID"] == task["taskUUID"]
    assert is_uuid_v4(item["imageUUID"])
    assert item["imageURL"].startswith(f"{runware.root_url}/images/{item['imageUUID']}")
    assert isinstance(item["seed"], int)
    assert not {"cost", "NSFWContent", "status", "imageBase64Data", "imageDataURI"} & item.keys()


@pytest.mark.parametrize("example", EXAMPLES, ids=[e["title"] for e in EXAMPLES])
def test_model_page_examples_get_the_documented_response_shape(
    runware: EmulatorHandle, example: dict[str, Any]
) -> None:
    request = {**example["request"], "taskUUID": str(uuid.uuid4()), "includeCost": True}
    response = runware.post([request])

    assert response.status_code == 200
    [item] = response.json()["data"]
    assert example["response"].keys() <= item.keys()
    assert item["taskUUID"] == request["taskUUID"]
    assert item["imageURL"].endswith(".jpg"), "JPG is the default outputFormat"
    assert item["cost"] == example["response"]["cost"], "costs reported as the model page's examples do"
    assert open_image(fetch(item["imageURL"]).content).size == (1024, 1024)


def test_async_request_is_acknowledged_then_polled_to_success(runware: EmulatorHandle) -> None:
    task = async_task()
    ack = runware.post([task])

    assert ack.status_code == 200
    assert ack.json() == {"data": [{"taskType": "imageInference", "taskUUID": task["taskUUID"]}]}
    first = poll(runware, task["taskUUID"]).json()
    assert first["data"] == [
        {"taskType": "imageInference", "taskUUID": task["taskUUID"], "status": "processing"}
    ]
    final = wait_until_done(runware, task["taskUUID"])
    [item] = final["data"]
    assert item["status"] == "success"
    assert item["taskUUID"] == task["taskUUID"]
    assert fetch(item["imageURL"]).status_code == 200


def test_async_ack_can_be_an_empty_data_array(runware: EmulatorHandle) -> None:
    runware.fault(kind="ack_shape", shape="empty")
    task = async_task()

    assert runware.post([task]).json() == {"data": []}
    assert len(successes(wait_until_done(runware, task["taskUUID"]))) == 1


def test_legacy_servers_say_pending(runware: EmulatorHandle) -> None:
    runware.fault(kind="legacy_pending")
    task = async_task()
    runware.post([task])

    assert statuses(poll(runware, task["taskUUID"]).json()) == ["pending"]
    assert statuses(wait_until_done(runware, task["taskUUID"])) == ["success"]


def test_number_results_gives_distinct_images_under_one_task(runware: EmulatorHandle) -> None:
    task = valid_task(numberResults=3)
    items = runware.post([task]).json()["data"]

    assert len(items) == 3
    assert {item["taskUUID"] for item in items} == {task["taskUUID"]}
    assert len({item["imageUUID"] for item in items}) == 3
    assert len({item["seed"] for item in items}) == 3


def test_polling_sees_partial_results(runware: EmulatorHandle) -> None:
    task = async_task(numberResults=3)
    runware.post([task])
    seen: set[tuple[int, bool]] = set()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        body = poll(runware, task["taskUUID"]).json()
        done, running = len(successes(body)), "processing" in statuses(body)
        seen.add((done, running))
        if not running:
            break
        time.sleep(0.02)

    assert (3, False) in seen
    assert any(0 < done < 3 and running for done, running in seen), seen


def test_every_output_type_and_format(runware: EmulatorHandle) -> None:
    combos = [(t, f) for t in ("URL", "base64Data", "dataURI") for f in ("JPG", "PNG", "WEBP")]
    tasks = [
        valid_task(outputType=t, outputFormat=f, width=256 * (1 + i % 2), height=256 * (1 + i % 2))
        for i, (t, f) in enumerate(combos)
    ]
    response = runware.post(tasks)

    assert response.status_code == 200
    items = {item["taskUUID"]: item for item in response.json()["data"]}
    for task, (output_type, output_format) in zip(tasks, combos, strict=True):
        item = items[task["taskUUID"]]
        present = [name for name in OUTPUT_FIELDS if name in item]
        assert len(present) == 1, (output_type, present)
        if output_type == "URL":
            fetched = fetch(item["imageURL"])
            assert fetched.status_code == 200
            assert fetched.headers["content-type"] == MEDIA_TYPES[output_format]
            data = fetched.content
        elif output_type == "base64Data":
            data = base64.b64decode(item["imageBase64Data"], validate=True)
        else:
            prefix = f"data:{MEDIA_TYPES[output_format]};base64,"
            assert item["imageDataURI"].startswith(prefix)
            data = base64.b64decode(item["imageDataURI"][len(prefix) :], validate=True)
        image = open_image(data)
        assert image.format == PILLOW_FORMATS[output_format], (output_type, output_format)
        assert image.size == (task["width"], task["height"])


def test_image_urls_expire_after_ttl(runware: EmulatorHandle) -> None:
    short, default = valid_task(ttl=60), valid_task()
    items = {item["taskUUID"]: item for item in runware.post([short, default]).json()["data"]}
    short_url, default_url = items[short["taskUUID"]]["imageURL"], items[default["taskUUID"]]["imageURL"]
    assert fetch(short_url).status_code == 200

    runware.advance_clock(61)
    assert fetch(short_url).status_code == 404
    assert fetch(default_url).status_code == 200

    runware.fault(kind="expire_images")
    assert fetch(default_url).status_code == 404


def test_cost_depends_on_the_size(runware: EmulatorHandle) -> None:
    dalle2 = valid_task(includeCost=True, numberResults=2)
    larger = valid_task(includeCost=True, width=512, height=512)
    generic = valid_task(includeCost=True, model=UNKNOWN_MODEL, width=128, height=128)
    items = runware.post([dalle2, larger, generic]).json()["data"]

    costs = {item["taskUUID"]: item["cost"] for item in items}
    assert [item["cost"] for item in items if item["taskUUID"] == dalle2["taskUUID"]] == [
        DALLE2_PRICE[256]
    ] * 2
    assert costs[larger["taskUUID"]] == DALLE2_PRICE[512]
    assert costs[generic["taskUUID"]] == 0.01


def test_nsfw_flag_only_when_safety_is_on(runware: EmulatorHandle) -> None:
    checked, unchecked = valid_task(safety={"checkContent": True}), valid_task()
    items = {item["taskUUID"]: item for item in runware.post([checked, unchecked]).json()["data"]}

    assert items[checked["taskUUID"]]["NSFWContent"] is False
    assert "NSFWContent" not in items[unchecked["taskUUID"]]


def test_same_seed_gives_the_same_bytes(runware: EmulatorHandle) -> None:
    tasks = [valid_task(seed=1234), valid_task(seed=1234), valid_task(seed=1235)]
    items = {item["taskUUID"]: item for item in runware.post(tasks).json()["data"]}
    first, again, other = (fetch(items[t["taskUUID"]]["imageURL"]).content for t in tasks)

    assert items[tasks[0]["taskUUID"]]["seed"] == 1234
    assert first == again
    assert first != other


# ----- auth and account ---------------------------------------------------------------------------


def test_missing_key_is_refused(runware: EmulatorHandle) -> None:
    response = runware.post([valid_task()], api_key=None)

    assert response.status_code == 401
    error = response.json()["errors"][0]
    assert (error["code"], error["parameter"], error["taskType"]) == (
        "missingApiKey",
        "apiKey",
        "authentication",
    )
    assert runware.requests("generation") == []


def test_wrong_key_is_refused(runware: EmulatorHandle) -> None:
    response = runware.post([valid_task()], api_key="not-the-key")

    assert response.status_code == 401
    assert response.json()["errors"][0]["code"] == "invalidApiKey"


def test_authentication_task_replaces_the_header(runware: EmulatorHandle) -> None:
    task = valid_task()
    auth = {"taskType": "authentication", "apiKey": runware.api_key}
    response = runware.post([auth, task], api_key=None)

    assert response.status_code == 200
    assert [item["taskUUID"] for item in response.json()["data"]] == [task["taskUUID"]]
    logged = runware.tasks_of_type("authentication")
    assert len(logged) == 1
    assert "apiKey" not in logged[0]["task"], "the key never reaches the request log"

    wrong = runware.post([{**auth, "apiKey": "nope"}, valid_task()], api_key=None)
    assert wrong.status_code == 401
    assert wrong.json()["errors"][0]["code"] == "invalidApiKey"


def test_ping(runware: EmulatorHandle) -> None:
    response = runware.post([{"taskType": "ping"}])
    assert response.status_code == 200
    assert response.json() == {"data": [{"taskType": "ping", "pong": True}]}


def account(runware: EmulatorHandle) -> dict[str, Any]:
    task_uuid = str(uuid.uuid4())
    response = runware.post(
        [{"taskType": "accountManagement", "taskUUID": task_uuid, "operation": "getDetails"}]
    )
    assert response.status_code == 200
    [details] = response.json()["data"]
    assert details["taskUUID"] == task_uuid
    return details


def balance(runware: EmulatorHandle) -> float:
    """The balance in the default (runware-sdk 1.8.0) object shape."""
    value = account(runware)["balance"]
    assert set(value) == {"amount", "currency"}
    assert value["currency"] == "USD"
    amount: float = value["amount"]
    return amount


def test_account_details_show_a_balance_that_images_use_up(runware: EmulatorHandle) -> None:
    before = account(runware)
    assert before["balance"] == {"amount": 100.0, "currency": "USD"}, "the SDK's object shape by default"
    assert {"organizationUUID", "organizationName", "operation", "apiKeys", "usage"} <= before.keys()
    assert runware.api_key not in json.dumps(before["apiKeys"]), "keys are masked"

    runware.post([valid_task(numberResults=2)])
    after = account(runware)
    assert balance(runware) == pytest.approx(100.0 - 2 * DALLE2_PRICE[256])
    assert after["usage"]["imagesGenerated"] == 2


def test_balance_can_be_the_documented_number(runware: EmulatorHandle) -> None:
    runware.config(balance_shape="number")
    assert account(runware)["balance"] == 100.0
    runware.reset()
    assert isinstance(account(runware)["balance"], dict), "a reset restores the start-up shape"


def test_unknown_account_operation_is_a_validation_error(runware: EmulatorHandle) -> None:
    response = runware.post(
        [{"taskType": "accountManagement", "taskUUID": str(uuid.uuid4()), "operation": "x"}]
    )
    assert response.status_code == 400
    assert response.json()["errors"][0]["parameter"] == "operation"


# ----- task lookup, conflicts, batches ------------------------------------------------------------


def test_get_task_details_returns_request_and_response(runware: EmulatorHandle) -> None:
    task = valid_task()
    [item] = runware.post([task]).json()["data"]
    response = runware.post([{"taskType": "getTaskDetails", "taskUUID": task["taskUUID"]}])

    assert response.status_code == 200
    [details] = response.json()["data"]
    assert details["request"] == [task], "runware-sdk 1.8.0 types request as the task array"
    assert details["response"] == {"data": [item]}, "and response as the answer object"
    assert details["status"] == "success"


def test_reused_task_uuid_is_a_conflict(runware: EmulatorHandle) -> None:
    task = async_task()
    assert runware.post([task]).status_code == 200
    response = runware.post([task])

    assert response.status_code == 400
    error = response.json()["errors"][0]
    assert error["code"] == "conflictTaskUUID"
    assert error["taskUUID"] == task["taskUUID"]
    assert error["context"] == {
        "taskType": "imageInference",
        "taskUUID": task["taskUUID"],
        "deliveryMethod": "async",
    }
    wait_until_done(runware, task["taskUUID"])
    assert len(runware.requests("generation")) == 1, "the task ran (and was billed) once"
    assert balance(runware) == pytest.approx(100.0 - DALLE2_PRICE[256])


def test_conflict_can_name_the_task_in_its_context_only(runware: EmulatorHandle) -> None:
    runware.config(conflict_shape="context_only")
    task = async_task()
    runware.post([task])
    [error] = runware.post([task]).json()["errors"]

    assert (error["code"], error["taskUUID"]) == ("conflictTaskUUID", None)
    assert error["context"]["taskUUID"] == task["taskUUID"]


def test_unknown_task_uuid_is_not_found(runware: EmulatorHandle) -> None:
    task_uuid = str(uuid.uuid4())
    for task_type in ("getResponse", "getTaskDetails"):
        response = runware.post([{"taskType": task_type, "taskUUID": task_uuid}])
        assert response.status_code == 404
        error = response.json()["errors"][0]
        assert (error["code"], error["taskUUID"], error["taskType"]) == ("taskNotFound", task_uuid, task_type)
        assert error["message"]
        assert error["documentation"]


def test_not_found_can_take_the_other_shapes_clients_report(runware: EmulatorHandle) -> None:
    task_uuid = str(uuid.uuid4())
    runware.fault(kind="not_found", code="taskExpired", status=400)
    expired = poll(runware, task_uuid)
    assert (expired.status_code, expired.json()["errors"][0]["code"]) == (400, "taskExpired")

    runware.fault(kind="not_found", shape="empty")
    empty = poll(runware, task_uuid)
    assert (empty.status_code, empty.json()) == (200, {"data": []})


def test_forgotten_tasks_are_not_found(runware: EmulatorHandle) -> None:
    task = valid_task()
    runware.post([task])
    runware.fault(kind="forget_tasks")
    assert poll(runware, task["taskUUID"]).json()["errors"][0]["code"] == "taskNotFound"


def test_mixed_batch_returns_data_and_errors(runware: EmulatorHandle) -> None:
    good, bad = valid_task(), valid_task(width=500, height=500)
    response = runware.post([good, bad])

    assert response.status_code == 200
    body = response.json()
    assert [item["taskUUID"] for item in body["data"]] == [good["taskUUID"]]
    assert [(e["taskUUID"], e["code"]) for e in body["errors"]] == [(bad["taskUUID"], "invalidWidth")]


def test_many_tasks_polled_in_one_request(runware: EmulatorHandle) -> None:
    first, second = async_task(), async_task(numberResults=2)
    runware.post([first, second])
    wait_until_done(runware, first["taskUUID"])
    wait_until_done(runware, second["taskUUID"])
    unknown = str(uuid.uuid4())
    response = poll(runware, first["taskUUID"], second["taskUUID"], unknown)

    assert response.status_code == 200
    body = response.json()
    assert sorted(item["taskUUID"] for item in successes(body)) == sorted(
        [first["taskUUID"], second["taskUUID"], second["taskUUID"]]
    )
    assert [(e["taskUUID"], e["code"]) for e in body["errors"]] == [(unknown, "taskNotFound")]


@pytest.mark.parametrize(
    "body", [b'{"taskType": "ping"}', b"[]", b"not json"], ids=["object", "empty", "text"]
)
def test_body_must_be_a_non_empty_array(runware: EmulatorHandle, body: bytes) -> None:
    response = httpx.post(
        runware.base_url,
        content=body,
        headers={"Authorization": f"Bearer {runware.api_key}"},
        trust_env=False,
    )
    assert response.status_code == 400
    assert response.json()["errors"][0]["code"] == "invalidRequestBody"


def test_unknown_task_type_is_unsupported(runware: EmulatorHandle) -> None:
    response = runware.post([{"taskType": "audioInference", "taskUUID": str(uuid.uuid4())}])
    assert response.status_code == 400
    error = response.json()["errors"][0]
    assert (error["code"], error["parameter"]) == ("unsupportedTaskType", "taskType")


def test_reset_forgets_everything(runware: EmulatorHandle) -> None:
    task = valid_task()
    runware.post([task])
    runware.fault(kind="latency", seconds=5)
    runware.reset()

    assert runware.requests() == []
    assert runware.faults() == []
    assert poll(runware, task["taskUUID"]).status_code == 404
    assert balance(runware) == 100.0


# ----- uploads and webhooks -----------------------------------------------------------------------


def test_upload_endpoint_gets_the_raw_bytes_before_success(
    runware: EmulatorHandle, receiver: Receiver
) -> None:
    receiver.delay = 0.4  # a slow bucket: success must wait for the PUT to finish
    target = f"{receiver.url}/bucket/out.png"
    task = async_task(outputFormat="PNG", uploadEndpoint=f"{target}?X-Amz-Signature=s3cr3t")
    runware.post([task])
    observed: list[tuple[float, list[str]]] = []
    deadline = time.monotonic() + 10
    while (not observed or "processing" in observed[-1][1]) and time.monotonic() < deadline:
        seen = statuses(poll(runware, task["taskUUID"]).json())
        observed.append((time.monotonic(), seen))  # stamped after the answer arrived
        time.sleep(0.05)

    [put] = receiver.received
    assert (put.method, put.path, put.query) == ("PUT", "/bucket/out.png", "X-Amz-Signature=s3cr3t")
    assert "x-ms-blob-type" not in put.headers
    assert "content-type" not in put.headers
    assert open_image(put.body).format == "PNG"
    success_at = next(at for at, seen in observed if "success" in seen)
    assert success_at >= put.at + receiver.delay
    assert any(at > put.at and "processing" in seen for at, seen in observed)
    [item] = successes(poll(runware, task["taskUUID"]).json())
    assert fetch(item["imageURL"]).content == put.body
    [logged] = runware.requests("upload")
    assert (logged["target"], logged["status"], logged["bytes"]) == (target, 200, len(put.body))


def test_rejected_upload_is_an_image_error(runware: EmulatorHandle, receiver: Receiver) -> None:
    receiver.status = 403
    task = valid_task(uploadEndpoint=f"{receiver.url}/bucket/out.jpg?sig=s3cr3t")
    response = runware.post([task])

    assert response.status_code == 400
    assert "data" not in response.json()
    [error] = response.json()["errors"]
    assert (error["code"], error["status"], error["taskUUID"]) == ("uploadFailed", "error", task["taskUUID"])
    assert "HTTP 403" in error["message"]
    assert "s3cr3t" not in response.text
    assert len(receiver.received) == 1


def test_webhook_gets_one_post_per_image(runware: EmulatorHandle, receiver: Receiver) -> None:
    task = valid_task(numberResults=2, webhookURL=f"{receiver.url}/hook?token=s3cr3t")
    items = runware.post([task]).json()["data"]

    posts = receiver.received
    assert [(p.method, p.path, p.query) for p in posts] == [("POST", "/hook", "token=s3cr3t")] * 2
    assert [json.loads(p.body) for p in posts] == [{"data": [item]} for item in items]
    logged = runware.requests("webhook")
    assert [(entry["target"], entry["status"]) for entry in logged] == [(f"{receiver.url}/hook", 200)] * 2


def webhook_attempts(runware: EmulatorHandle, count: int, timeout: float = 10.0) -> list[dict[str, Any]]:
    """The webhook log once it holds ``count`` attempts (retries run in the background)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        logged = runware.requests("webhook")
        if len(logged) >= count:
            return logged
        time.sleep(0.05)
    raise AssertionError(f"fewer than {count} webhook attempts: {runware.requests('webhook')}")


def test_webhook_failures_are_retried_then_given_up_not_fatal(
    runware: EmulatorHandle, receiver: Receiver
) -> None:
    receiver.status = 500
    response = runware.post([valid_task(webhookURL=f"{receiver.url}/hook")])

    assert response.status_code == 200
    logged = webhook_attempts(runware, 3)
    assert [(entry["status"], entry["attempt"]) for entry in logged] == [(500, 1), (500, 2), (500, 3)]
    time.sleep(1.0)
    assert len(runware.requests("webhook")) == 3, "three attempts, then the delivery is given up"


def test_webhook_is_retried_until_it_gets_a_2xx(runware: EmulatorHandle, receiver: Receiver) -> None:
    receiver.status = 503
    task = valid_task(webhookURL=f"{receiver.url}/hook")
    [item] = runware.post([task]).json()["data"]
    receiver.status = 200

    logged = webhook_attempts(runware, 2)
    assert [(entry["status"], entry["attempt"]) for entry in logged] == [(503, 1), (200, 2)]
    assert [json.loads(p.body) for p in receiver.received] == [{"data": [item]}] * 2


# ----- faults -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "code"),
    [
        (429, "rateLimitExceeded"),
        (500, "internalServerError"),
        (503, "serviceUnavailable"),
        (504, "timeoutProvider"),
    ],
)
def test_http_status_fault(runware: EmulatorHandle, status: int, code: str) -> None:
    runware.fault(kind="http_status", status=status, retry_after=2, count=2)
    task = valid_task()

    for _ in range(2):
        response = runware.post([task])
        assert response.status_code == status
        assert response.headers["retry-after"] == "2"
        error = response.json()["errors"][0]
        assert (error["code"], error["taskUUID"]) == (code, task["taskUUID"])
    assert runware.post([task]).status_code == 200, "the faulted submits were never accepted: no conflict"
    assert [entry["status"] for entry in runware.tasks_of_type("imageInference")] == [status, status, 200]


def test_http_status_fault_without_retry_after_and_with_custom_code(runware: EmulatorHandle) -> None:
    runware.fault(kind="http_status", status=429, code="providerRateLimitExceeded")
    response = runware.post([{"taskType": "ping"}])
    assert "retry-after" not in response.headers
    assert response.json()["errors"][0]["code"] == "providerRateLimitExceeded"


def test_http_status_fault_for_one_task_type(runware: EmulatorHandle) -> None:
    runware.fault(kind="http_status", status=503, task_type="getResponse")
    task = async_task()

    assert runware.post([task]).status_code == 200
    assert poll(runware, task["taskUUID"]).status_code == 503
    assert poll(runware, task["taskUUID"]).status_code == 200


def test_fault_after_processing_loses_the_answer_not_the_task(runware: EmulatorHandle) -> None:
    runware.fault(kind="http_status", status=504, after=True)
    task = async_task()

    assert runware.post([task]).status_code == 504
    retry = runware.post([task])
    assert retry.json()["errors"][0]["code"] == "conflictTaskUUID"
    assert len(successes(wait_until_done(runware, task["taskUUID"]))) == 1


def test_latency_fault_slows_every_answer_until_reset(runware: EmulatorHandle) -> None:
    runware.fault(kind="latency", seconds=0.3)
    for _ in range(2):
        started = time.monotonic()
        runware.post([{"taskType": "ping"}])
        assert time.monotonic() - started >= 0.3
    assert [fault["kind"] for fault in runware.faults()] == ["latency"]


def test_queue_delay_makes_async_generation_take_longer(runware: EmulatorHandle) -> None:
    runware.fault(kind="queue_delay", seconds=0.6)
    task = async_task()
    started = time.monotonic()
    runware.post([task])
    time.sleep(0.45)

    assert statuses(poll(runware, task["taskUUID"]).json()) == ["processing"]
    wait_until_done(runware, task["taskUUID"])
    assert time.monotonic() - started >= 0.6 + 0.3


def test_dropped_connection_gets_no_response(runware: EmulatorHandle) -> None:
    runware.fault(kind="drop_connection")
    with pytest.raises(httpx.RemoteProtocolError, match="without sending a response"):
        runware.post([valid_task()])
    assert runware.post([{"taskType": "ping"}]).status_code == 200
    [dropped, _] = runware.requests("api")
    assert (dropped["fault"], dropped["status"]) == ("drop_connection", None)


def test_held_post_never_reaches_runware(runware: EmulatorHandle) -> None:
    """``hold``: the POST waits at the door (logged as held meanwhile), then drops unprocessed, so its
    task is unknown afterwards: a client killed while held never submitted it. Other task types pass."""
    runware.fault(kind="hold", task_type="imageInference", seconds=0.5)
    task = valid_task()
    assert runware.post([{"taskType": "ping"}]).status_code == 200
    with pytest.raises(httpx.RemoteProtocolError, match="without sending a response"):
        runware.post([task])
    held = runware.requests("api", task_type="imageInference")
    assert [(entry["fault"], entry["status"]) for entry in held] == [("hold", None)]
    assert poll(runware, task["taskUUID"]).json()["errors"][0]["code"] == "taskNotFound"
    assert runware.post([task]).status_code == 200, "a count-1 hold is used up"


def test_malformed_body(runware: EmulatorHandle) -> None:
    runware.fault(kind="malformed")
    response = runware.post([valid_task()])

    assert response.status_code == 200
    with pytest.raises(json.JSONDecodeError):
        json.loads(response.text)


def test_failed_generation_is_one_error_item(runware: EmulatorHandle) -> None:
    runware.fault(kind="fail_generation", code="inferenceError", message="GPU on fire")
    task = valid_task(numberResults=2)
    response = runware.post([task])

    assert response.status_code == 200
    body = response.json()
    assert len(body["data"]) == 1
    [error] = body["errors"]
    assert (error["code"], error["message"], error["status"]) == ("inferenceError", "GPU on fire", "error")
    assert error["taskUUID"] == task["taskUUID"]
    assert balance(runware) == pytest.approx(100.0 - DALLE2_PRICE[256]), "failed images are not billed"


def test_failed_generation_while_polling_is_nested_as_the_sdk_reads_it(runware: EmulatorHandle) -> None:
    runware.fault(kind="fail_generation", count=2, message="GPU on fire")
    task = async_task(numberResults=2)
    runware.post([task])
    wait_until_done(runware, task["taskUUID"])
    response = poll(runware, task["taskUUID"])

    assert response.status_code == 200
    body = response.json()
    assert "errors" not in body
    items = body["data"]
    assert [(i["taskType"], i["taskUUID"], i["status"]) for i in items] == [
        ("imageInference", task["taskUUID"], "error")
    ] * 2
    assert [(i["error"]["code"], i["error"]["message"]) for i in items] == [
        ("inferenceError", "GPU on fire")
    ] * 2
    assert {"parameter", "documentation"} <= items[0]["error"].keys()
    assert items[0] != items[1], "two failures stay distinguishable (resultIndex)"


def test_failed_generation_while_polling_in_the_flat_shape(runware: EmulatorHandle) -> None:
    runware.config(error_shape="flat")
    runware.fault(kind="fail_generation", count=2)
    task = async_task(numberResults=2)
    runware.post([task])
    wait_until_done(runware, task["taskUUID"])
    response = poll(runware, task["taskUUID"])

    assert response.status_code == 400
    errors = response.json()["errors"]
    assert [(e["code"], e["status"], e["taskUUID"]) for e in errors] == [
        ("inferenceError", "error", task["taskUUID"])
    ] * 2
    assert errors[0] != errors[1], "two failures stay distinguishable (resultIndex)"


def test_upload_fail_fault_reports_without_putting(runware: EmulatorHandle, receiver: Receiver) -> None:
    runware.fault(kind="upload_fail", status=403)
    response = runware.post([valid_task(uploadEndpoint=f"{receiver.url}/bucket/x.jpg")])

    assert response.json()["errors"][0]["code"] == "uploadFailed"
    assert "403" in response.json()["errors"][0]["message"]
    assert receiver.received == []


def test_upload_skip_fault_reports_success_without_putting(
    runware: EmulatorHandle, receiver: Receiver
) -> None:
    runware.fault(kind="upload_skip")
    response = runware.post([valid_task(uploadEndpoint=f"{receiver.url}/bucket/x.jpg")])

    assert response.status_code == 200
    assert len(response.json()["data"]) == 1
    assert receiver.received == []
    assert runware.requests("upload")[0]["skipped"] is True


def test_upload_delay_fault(runware: EmulatorHandle, receiver: Receiver) -> None:
    runware.fault(kind="upload_delay", seconds=0.5)
    started = time.monotonic()
    response = runware.post([valid_task(uploadEndpoint=f"{receiver.url}/bucket/x.jpg")])

    assert response.status_code == 200
    assert time.monotonic() - started >= 0.5
    assert len(receiver.received) == 1


def test_insufficient_credits_until_reset(runware: EmulatorHandle) -> None:
    runware.fault(kind="insufficient_credits")
    for _ in range(2):
        response = runware.post([valid_task()])
        assert response.status_code == 402
        assert response.json()["errors"][0]["code"] == "insufficientCredits"
    assert runware.requests("generation") == []
    runware.reset()
    assert runware.post([valid_task()]).status_code == 200


def test_deactivated_model(runware: EmulatorHandle) -> None:
    runware.fault(kind="deactivate_model", model="openai:2@2", code="modelDisabled")
    response = runware.post([valid_task()])

    assert response.status_code == 400
    error = response.json()["errors"][0]
    assert (error["code"], error["parameter"]) == ("modelDisabled", "model")
    assert "openai:2@2" in error["message"]
    assert "openai:gpt-image@2" in error["message"], "the message names the replacement"
    other = valid_task(model=UNKNOWN_MODEL, width=128, height=128)
    assert runware.post([other]).status_code == 200


def test_sync_timeout_keeps_the_task_running(runware: EmulatorHandle) -> None:
    runware.fault(kind="sync_timeout", seconds=0.4)
    task = valid_task()
    started = time.monotonic()
    response = runware.post([task])

    assert time.monotonic() - started >= 0.4
    assert response.status_code == 504
    error = response.json()["errors"][0]
    assert (error["code"], error["taskUUID"]) == ("timeoutProvider", task["taskUUID"])
    assert len(successes(wait_until_done(runware, task["taskUUID"]))) == 1


def test_faults_are_listed_and_used_up(runware: EmulatorHandle) -> None:
    runware.fault(kind="http_status", status=503, count=2)
    assert [(f["kind"], f["remaining"]) for f in runware.faults()] == [("http_status", 2)]
    runware.post([{"taskType": "ping"}])
    assert [(f["kind"], f["remaining"]) for f in runware.faults()] == [("http_status", 1)]
    runware.post([{"taskType": "ping"}])
    assert runware.faults() == []


@pytest.mark.parametrize(
    "spec",
    [
        {"kind": "nope"},
        {"kind": "http_status", "status": 200},
        {"kind": "latency"},
        {"kind": "malformed", "count": 0},
    ],
    ids=["unknown-kind", "status-not-error", "latency-without-seconds", "count-zero"],
)
def test_bad_fault_specs_are_refused(runware: EmulatorHandle, spec: dict[str, Any]) -> None:
    with pytest.raises(httpx.HTTPStatusError) as caught:
        runware.fault(**spec)
    assert caught.value.response.status_code == 400
