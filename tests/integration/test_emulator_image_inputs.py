"""Image inputs and the image tools over real HTTP: imageInference with seedImage / maskImage /
referenceImages, ``removeBackground`` and ``upscale``, each input form (imageUUID chaining, a loopback
URL, a moto S3 presigned GET URL, a data URI), proof in the output files that the inputs were used, the
Runware-shaped errors (synchronous ones in the submit answer, download failures in getResponse), and
the shared machinery (uploadEndpoint, webhooks, conflicts, faults) for the new task types."""

from __future__ import annotations

import base64
import io
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from bad_inputs import valid_task
from emulator_handle import EmulatorHandle
from PIL import Image, ImageChops, ImageStat
from servers import free_port

pytestmark = pytest.mark.integration

GENERIC_MODEL = "runware:101@1"
REMBG = "runware:109@1"
SWINIR = "runware:503@1"
CLARITY = "runware:500@1"
BLUE = (20, 40, 220)


# ----- images and servers -------------------------------------------------------------------------


def png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def product_photo(width: int = 96, height: int = 64) -> bytes:
    """A red product on a plain white backdrop, with a white label on it (which must survive)."""
    image = Image.new("RGB", (width, height), (255, 255, 255))
    image.paste((200, 30, 30), (width // 4, height // 4, 3 * width // 4, 3 * height // 4))
    image.paste((255, 255, 255), (width // 2 - 4, height // 2 - 4, width // 2 + 4, height // 2 + 4))
    return png(image)


def solid(colour: tuple[int, int, int], size: tuple[int, int] = (64, 64)) -> bytes:
    return png(Image.new("RGB", size, colour))


def data_uri(data: bytes, media_type: str = "image/png") -> str:
    return f"data:{media_type};base64,{base64.b64encode(data).decode()}"


def open_image(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


@dataclass
class Files:
    """A loopback HTTP server: GET serves ``files`` (path -> (status, body)), PUT and POST are kept."""

    files: dict[str, tuple[int, bytes]] = field(default_factory=dict)
    received: list[tuple[str, str, bytes]] = field(default_factory=list)

    def __post_init__(self) -> None:
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                status, body = owner.files.get(urlsplit(self.path).path, (404, b"not found"))
                self.send_response(status)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def _keep(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                owner.received.append((self.command, urlsplit(self.path).path, body))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            do_PUT = _keep
            do_POST = _keep

            def log_message(self, format: str, *args: object) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}{path}"

    def serve(self, path: str, body: bytes, status: int = 200) -> str:
        self.files[path] = (status, body)
        return self.url(path)


@pytest.fixture
def files() -> Iterator[Files]:
    server = Files()
    thread = threading.Thread(target=server.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield server
    server.server.shutdown()
    server.server.server_close()


# ----- protocol helpers ---------------------------------------------------------------------------


def tool_task(task_type: str, **fields: Any) -> dict[str, Any]:
    return {"taskType": task_type, "taskUUID": str(uuid.uuid4()), **fields}


def remove_background(**fields: Any) -> dict[str, Any]:
    return tool_task("removeBackground", **{"model": REMBG, **fields})


def upscale(**fields: Any) -> dict[str, Any]:
    return tool_task("upscale", **{"model": SWINIR, "upscaleFactor": 2, **fields})


def run_sync(runware: EmulatorHandle, task: dict[str, Any]) -> dict[str, Any]:
    response = runware.post([task])
    assert response.status_code == 200, response.text
    [item] = response.json()["data"]
    return dict(item)


def run_async(runware: EmulatorHandle, task: dict[str, Any]) -> dict[str, Any]:
    """Submit with deliveryMethod async, poll getResponse until terminal; the one terminal item."""
    ack = runware.post([{**task, "deliveryMethod": "async"}])
    assert ack.status_code == 200, ack.text
    assert ack.json()["data"] == [{"taskType": task["taskType"], "taskUUID": task["taskUUID"]}]
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        body = runware.post([{"taskType": "getResponse", "taskUUID": task["taskUUID"]}]).json()
        items = body.get("data", []) + body.get("errors", [])
        if items and all(item.get("status") not in ("processing", "pending") for item in items):
            [item] = items
            return dict(item)
        time.sleep(0.05)
    raise AssertionError(f"{task['taskUUID']} still processing")


def image_of(item: dict[str, Any]) -> Image.Image:
    if "imageURL" in item:
        return open_image(httpx.get(item["imageURL"], trust_env=False, timeout=10).content)
    if "imageDataURI" in item:
        return open_image(base64.b64decode(item["imageDataURI"].split(",", 1)[1]))
    return open_image(base64.b64decode(item["imageBase64Data"]))


def refusal(runware: EmulatorHandle, task: dict[str, Any]) -> dict[str, Any]:
    response = runware.post([task])
    assert response.status_code == 400, response.text
    [error] = response.json()["errors"]
    assert error["taskUUID"] == task["taskUUID"]
    assert error["taskType"] == task["taskType"]
    return dict(error)


# ----- input forms and proof ----------------------------------------------------------------------


def test_uuid_chain_generate_then_remove_background_then_upscale(runware: EmulatorHandle) -> None:
    generated = run_sync(runware, valid_task(outputFormat="PNG"))
    cut = run_async(runware, remove_background(inputImage=generated["imageUUID"], includeCost=True))
    assert cut["status"] == "success"
    assert cut["inputImageUUID"] == generated["imageUUID"]
    assert cut["imageURL"].endswith(".png"), "removeBackground's outputFormat defaults to PNG"
    assert cut["cost"] > 0
    big = run_async(runware, upscale(inputImage=cut["imageUUID"], upscaleFactor=4, outputFormat="PNG"))
    assert big["inputImageUUID"] == cut["imageUUID"]
    assert image_of(big).size == (1024, 1024), "256x256 at 4x"
    sources = [(e["parameter"], e["source"], e["target"]) for e in runware.requests("input")]
    assert sources == [
        ("inputImage", "imageUUID", generated["imageUUID"]),
        ("inputImage", "imageUUID", cut["imageUUID"]),
    ]


def test_remove_background_cuts_out_a_product_photo(runware: EmulatorHandle) -> None:
    photo = product_photo()
    item = run_sync(runware, remove_background(inputImage=data_uri(photo), outputType="base64Data"))
    image = image_of(item)
    assert (image.format, image.mode, image.size) == ("PNG", "RGBA", (96, 64))
    alpha = image.getchannel("A")
    for corner in ((0, 0), (95, 0), (0, 63), (95, 63)):
        assert alpha.getpixel(corner) == 0, corner
    assert alpha.getpixel((30, 20)) == 255, "the product stays opaque"
    assert alpha.getpixel((48, 32)) == 255, "the white label is not connected to the backdrop"
    assert image.getpixel((30, 20))[:3] == (200, 30, 30)
    [logged] = runware.requests("input")
    assert (logged["source"], logged["bytes"]) == ("dataURI", len(photo))
    assert item["inputImageUUID"] != item["imageUUID"]


def test_remove_background_settings_return_only_the_mask(runware: EmulatorHandle) -> None:
    settings = {"returnOnlyMask": True, "rgba": [255, 255, 255, 0]}
    item = run_sync(runware, remove_background(inputImage=data_uri(product_photo()), settings=settings))
    mask = image_of(item).convert("L")
    assert (mask.getpixel((0, 0)), mask.getpixel((30, 20))) == (0, 255)


def test_loopback_url_input_is_downloaded_and_logged_without_its_query(
    runware: EmulatorHandle, files: Files
) -> None:
    photo = product_photo()
    url = files.serve("/catalogue/lamp.png", photo)
    item = run_async(runware, upscale(inputImage=f"{url}?X-Amz-Signature=s3cr3t", outputFormat="PNG"))
    assert image_of(item).size == (192, 128)
    [logged] = runware.requests("input")
    assert (logged["source"], logged["target"], logged["status"], logged["bytes"]) == (
        "url",
        url,
        200,
        len(photo),
    )
    assert "s3cr3t" not in str(runware.requests("input"))


def test_s3_presigned_get_url_input(runware: EmulatorHandle, s3_client: Any, s3_bucket: str) -> None:
    photo = product_photo(40, 30)
    s3_client.put_object(Bucket=s3_bucket, Key="photos/mug.png", Body=photo)
    url = s3_client.generate_presigned_url(
        "get_object", Params={"Bucket": s3_bucket, "Key": "photos/mug.png"}, ExpiresIn=300
    )
    item = run_async(runware, upscale(inputImage=url, model=CLARITY, outputFormat="PNG"))
    assert image_of(item).size == (80, 60)
    [logged] = runware.requests("input")
    assert (logged["status"], logged["bytes"]) == (200, len(photo))
    assert logged["target"] == url.split("?", 1)[0]


def test_upscale_output_is_capped_at_4096_by_shrinking_the_input_first(runware: EmulatorHandle) -> None:
    wide = solid(BLUE, (1600, 200))
    item = run_sync(runware, upscale(inputImage=data_uri(wide), upscaleFactor=4))
    # The page: the input is resized so the result stays within 4096x4096 (1600*4 > 4096).
    assert image_of(item).size == (4096, 512)


def test_seed_image_is_blended_into_the_generated_picture(runware: EmulatorHandle) -> None:
    plain = valid_task(model=GENERIC_MODEL, seed=7, outputFormat="PNG")
    with_seed = {**plain, "taskUUID": str(uuid.uuid4()), "seedImage": data_uri(solid(BLUE)), "strength": 0.2}
    without = image_of(run_sync(runware, plain)).convert("RGB")
    blended = image_of(run_sync(runware, with_seed)).convert("RGB")
    assert ImageChops.difference(without, blended).getbbox() is not None

    def distance(image: Image.Image) -> float:
        mean = ImageStat.Stat(image).mean
        return sum(abs(m - c) for m, c in zip(mean, BLUE, strict=True))

    assert distance(blended) < distance(without) / 2, "the output moved towards the seed image"


def test_inpainting_keeps_the_seed_image_outside_the_mask(runware: EmulatorHandle) -> None:
    mask = Image.new("L", (64, 64), 0)
    mask.paste(255, (32, 0, 64, 64))  # repaint the right half only
    task = valid_task(
        model=GENERIC_MODEL,
        outputFormat="PNG",
        seedImage=data_uri(solid(BLUE)),
        maskImage=data_uri(png(mask)),
    )
    image = image_of(run_sync(runware, task)).convert("RGB")
    assert image.getpixel((10, 128)) == BLUE
    assert image.getpixel((200, 128)) != BLUE


def test_reference_images_of_an_editing_model_set_the_output_size(runware: EmulatorHandle) -> None:
    """Gemini Flash Image 2.5's page: width/height are ignored and follow the reference image; its
    image-editing example sends none."""
    task = {
        "taskType": "imageInference",
        "taskUUID": str(uuid.uuid4()),
        "model": "google:4@1",
        "referenceImages": [data_uri(solid(BLUE, (320, 448)))],
        "positivePrompt": "Remove the red stain from the carpet and blur the background",
        "outputFormat": "PNG",
    }
    assert image_of(run_sync(runware, task)).size == (320, 448)


# ----- synchronous refusals -----------------------------------------------------------------------

NOT_AN_IMAGE = data_uri(b"plain text, not a picture at all", "text/plain")
UNKNOWN_UUID = str(uuid.uuid4())


def _references(count: int) -> list[str]:
    return [data_uri(solid(BLUE))] * count


REFUSALS = [
    pytest.param(
        valid_task(seedImage=data_uri(solid(BLUE))), "invalidSeedImage", "seedImage", id="dalle2-text-only"
    ),
    pytest.param(
        valid_task(model="bfl:3@1", width=1024, height=1024, referenceImages=_references(3)),
        "invalidReferenceImages",
        "referenceImages",
        id="kontext-takes-two-references",
    ),
    pytest.param(
        valid_task(model="google:4@1", width=1024, height=1024, referenceImages=_references(9)),
        "invalidReferenceImages",
        "referenceImages",
        id="gemini-takes-eight-references",
    ),
    pytest.param(
        valid_task(model=GENERIC_MODEL, maskImage=data_uri(solid(BLUE))),
        "missingSeedImage",
        "seedImage",
        id="mask-without-seed",
    ),
    pytest.param(
        valid_task(model=GENERIC_MODEL, seedImage=UNKNOWN_UUID),
        "invalidSeedImage",
        "seedImage",
        id="unknown-image-uuid",
    ),
    pytest.param(
        valid_task(model=GENERIC_MODEL, seedImage=data_uri(solid(BLUE)), strength=1.5),
        "invalidStrength",
        "strength",
        id="strength-above-one",
    ),
    pytest.param(
        valid_task(model=GENERIC_MODEL, seedImage="https://example.com/photo.png"),
        "invalidSeedImage",
        "seedImage",
        id="internet-url-refused",
    ),
    pytest.param(
        remove_background(inputImage=NOT_AN_IMAGE), "invalidInputImage", "inputImage", id="not-an-image"
    ),
    pytest.param(
        remove_background(inputImage="not a picture!"), "invalidInputImage", "inputImage", id="no-known-form"
    ),
    pytest.param(remove_background(), "missingInputImage", "inputImage", id="missing-input-image"),
    pytest.param(
        remove_background(
            inputImage=data_uri(solid(BLUE)), model="runware:110@1", settings={"rgba": [1, 2, 3, 0]}
        ),
        "invalidSettings",
        "settings",
        id="settings-only-for-rembg",
    ),
    pytest.param(
        remove_background(inputImage=data_uri(solid(BLUE)), settings={"alphaMattingErodeSize": 0}),
        "invalidSettings",
        "settings.alphaMattingErodeSize",
        id="erode-size-range",
    ),
    pytest.param(
        remove_background(inputImage=data_uri(solid(BLUE)), model="runware:501@1"),
        "invalidModel",
        "model",
        id="upscaler-is-no-background-model",
    ),
    pytest.param(
        upscale(inputImage=data_uri(solid(BLUE)), upscaleFactor=3),
        "invalidUpscaleFactor",
        "upscaleFactor",
        id="factor-three",
    ),
    pytest.param(
        upscale(inputImage=data_uri(solid(BLUE)), model=CLARITY, upscaleFactor=4),
        "invalidUpscaleFactor",
        "upscaleFactor",
        id="only-swinir-does-4x",
    ),
    pytest.param(
        {**upscale(inputImage=data_uri(solid(BLUE))), "upscaleFactor": None},
        "invalidUpscaleFactor",
        "upscaleFactor",
        id="factor-null",
    ),
    pytest.param(
        {k: v for k, v in upscale(inputImage=data_uri(solid(BLUE))).items() if k != "upscaleFactor"},
        "missingUpscaleFactor",
        "upscaleFactor",
        id="factor-missing",
    ),
    pytest.param(
        upscale(inputImage=data_uri(solid(BLUE)), model="runware:502@1", settings={"strength": 0.3}),
        "invalidSettings",
        "settings.strength",
        id="latent-upscaler-has-no-strength",
    ),
]


@pytest.mark.parametrize(("task", "code", "parameter"), REFUSALS)
def test_bad_inputs_are_refused_synchronously(
    runware: EmulatorHandle, task: dict[str, Any], code: str, parameter: str
) -> None:
    error = refusal(runware, {**task, "taskUUID": str(uuid.uuid4())})
    assert (error["code"], error["parameter"]) == (code, parameter)
    assert error["message"].startswith(("Invalid value for", "Missing"))
    assert error["documentation"].startswith("https://runware.ai/docs/en/")
    assert runware.requests("input") == [], "nothing was fetched for a refused task"
    assert runware.requests("generation") == []


def test_an_internet_url_is_never_contacted(runware: EmulatorHandle) -> None:
    task = remove_background(inputImage="http://203.0.113.9/photo.png?sig=s3cr3t")
    error = refusal(runware, task)
    assert error["code"] == "invalidInputImage"
    assert "loopback" in error["message"]
    assert "s3cr3t" not in error["message"]


# ----- download failures: the task's error in getResponse -----------------------------------------


def test_download_failures_are_task_errors_in_get_response(runware: EmulatorHandle, files: Files) -> None:
    cases = {
        "forbidden": files.serve("/expired.png", b"<Error>AccessDenied</Error>", status=403),
        "missing": files.url("/nowhere.png"),
        "refused": f"http://127.0.0.1:{free_port()}/photo.png",
    }
    for name, url in cases.items():
        failed = run_async(runware, remove_background(inputImage=f"{url}?X-Amz-Expires=1"))
        assert failed["status"] == "error", name
        assert (failed["error"]["code"], failed["error"]["parameter"]) == ("downloadFailed", "inputImage"), (
            name
        )
    logged = [(entry["target"], entry["status"]) for entry in runware.requests("input")]
    assert logged == [(cases["forbidden"], 403), (cases["missing"], 404), (cases["refused"], None)]
    assert {entry["status"] for entry in runware.requests("generation")} == {"error"}, "nothing billed"


def test_a_download_that_is_no_image_is_an_invalid_input(runware: EmulatorHandle, files: Files) -> None:
    url = files.serve("/page.png", b"<html>a login page</html>")
    failed = run_async(runware, upscale(inputImage=url))
    assert (failed["error"]["code"], failed["error"]["parameter"]) == ("invalidInputImage", "inputImage")
    failed_seed = run_async(runware, valid_task(model=GENERIC_MODEL, seedImage=url))
    assert failed_seed["error"]["code"] == "invalidSeedImage"


# ----- the shared machinery -----------------------------------------------------------------------


@pytest.mark.parametrize("make", [remove_background, upscale], ids=["removeBackground", "upscale"])
def test_upload_endpoint_and_webhook_for_the_tools(runware: EmulatorHandle, files: Files, make: Any) -> None:
    task = make(
        inputImage=data_uri(product_photo()),
        uploadEndpoint=files.url("/bucket/out.png") + "?X-Amz-Signature=s3cr3t",
        webhookURL=files.url("/hook") + "?token=t0k3n",
        outputFormat="PNG",
    )
    item = run_async(runware, task)
    assert item["status"] == "success"
    put = next(body for method, path, body in files.received if (method, path) == ("PUT", "/bucket/out.png"))
    assert image_of(item).tobytes() == open_image(put).tobytes()
    deadline = time.monotonic() + 10  # the webhook POST may land just after the poll saw success
    while not any((m, p) == ("POST", "/hook") for m, p, _ in files.received) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert any((method, path) == ("POST", "/hook") for method, path, _ in files.received)
    [upload] = runware.requests("upload")
    assert (upload["status"], upload["bytes"]) == (200, len(put))


def test_a_reused_task_uuid_is_a_conflict_for_the_tools(runware: EmulatorHandle) -> None:
    task = upscale(inputImage=data_uri(solid(BLUE)), deliveryMethod="async")
    assert runware.post([task]).status_code == 200
    error = refusal(runware, task)
    assert error["code"] == "conflictTaskUUID"
    assert error["context"] == {
        "taskType": "upscale",
        "taskUUID": task["taskUUID"],
        "deliveryMethod": "async",
    }


def test_faults_hit_the_tools_too(runware: EmulatorHandle) -> None:
    runware.fault(kind="fail_generation", code="inferenceError")
    failed = run_async(runware, remove_background(inputImage=data_uri(solid(BLUE))))
    assert (failed["taskType"], failed["status"], failed["error"]["code"]) == (
        "removeBackground",
        "error",
        "inferenceError",
    )
    task = upscale(inputImage=data_uri(solid(BLUE)), deliveryMethod="async")
    runware.post([task])
    runware.fault(kind="amnesia")
    forgotten = runware.post([{"taskType": "getResponse", "taskUUID": task["taskUUID"]}])
    assert forgotten.json()["errors"][0]["code"] == "taskNotFound"
