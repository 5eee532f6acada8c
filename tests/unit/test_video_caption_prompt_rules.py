"""The wire rules of videoInference, imageCaption and promptEnhance (shared by client and emulator):
good requests pass, each bad value is named with its parameter, value and rule; models the catalog does
not know get only the generic rules."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import pytest

from airflow_provider_runware.catalog.video_models import VIDEO_MODELS, get_video_model_spec
from airflow_provider_runware.tasks.image_caption import validate_image_caption
from airflow_provider_runware.tasks.prompt_enhance import validate_prompt_enhance
from airflow_provider_runware.tasks.video_inference import estimate_video_cost, validate_video_inference

TASK_UUID = "1f0e2d3c-4b5a-4968-8776-a5b4c3d2e1f0"
FRAME = "https://example.com/frame.png"


def video(**overrides: Any) -> dict[str, Any]:
    task: dict[str, Any] = {
        "taskType": "videoInference",
        "taskUUID": TASK_UUID,
        "model": "google:3@3",
        "positivePrompt": "a paper boat drifting down a rainy street",
        "width": 1280,
        "height": 720,
        "duration": 8,
        "deliveryMethod": "async",
    }
    task.update(overrides)
    return {key: value for key, value in task.items() if value is not None}


def found(violations: list[Any]) -> dict[str, Any]:
    return {v.parameter: v for v in violations}


def test_documented_requests_pass() -> None:
    assert validate_video_inference(video()) == []
    assert validate_video_inference(video(outputFormat="mp4", includeCost=True, numberResults=2)) == []
    hailuo = video(model="minimax:4@1", width=1366, height=768, duration=10, fps=25)
    assert validate_video_inference(hailuo) == []
    first_frame = video(
        width=None, height=None, inputs={"frameImages": [{"inputImage": FRAME, "frame": "first"}]}
    )
    assert validate_video_inference(first_frame) == []


@pytest.mark.parametrize(
    ("overrides", "parameter", "value", "rule_part"),
    [
        ({"width": 1000, "height": 1000}, "width/height", "1000x1000", "1280x720"),
        ({"duration": 5}, "duration", 5, "4, 6, 7, 8"),
        ({"duration": True}, "duration", True, "number of seconds"),
        ({"deliveryMethod": "sync"}, "deliveryMethod", "sync", "'async'"),
        ({"outputFormat": "GIF"}, "outputFormat", "GIF", "MP4, WEBM, MOV"),
        ({"outputQuality": 10}, "outputQuality", 10, "20..99"),
        ({"taskUUID": "not-a-uuid"}, "taskUUID", "not-a-uuid", "UUID v4"),
        ({"model": "veo3"}, "model", "veo3", "AIR id"),
        ({"resolution": "8K", "width": None, "height": None}, "resolution", "8K", "720p, 1080p, 4K"),
        ({"height": None}, "width", 1280, "together with height"),
        (
            {"uploadEndpoint": "ftp://bucket/x?sig=secret"},
            "uploadEndpoint",
            "ftp://bucket/x?***",
            "http(s) URL",
        ),
    ],
)
def test_bad_video_values_are_named(
    overrides: dict[str, Any], parameter: str, value: Any, rule_part: str
) -> None:
    violation = found(validate_video_inference(video(**overrides)))[parameter]
    assert violation.value == value
    assert rule_part in violation.rule
    assert parameter.split("/")[0] in violation.message()


def test_model_specific_video_rules() -> None:
    # MiniMax Hailuo 2.3: 1920x1080 only for 6 s; fps only 25.
    hd = found(validate_video_inference(video(model="minimax:4@1", width=1920, height=1080, duration=10)))
    assert "1920x1080" in hd["duration"].rule
    assert (
        "25"
        in found(
            validate_video_inference(video(model="minimax:4@1", width=1366, height=768, duration=6, fps=30))
        )["fps"].rule
    )
    # Hailuo 2.3 Fast is image-to-video only.
    fast = found(validate_video_inference(video(model="minimax:4@2", width=1366, height=768, duration=6)))
    assert fast["frameImages"].code == "missingFrameImages"
    # Veo 3.1 Fast: "exactly one of inputs.frameImages or width/height".
    both = video(frameImages=[{"inputImage": FRAME}])
    assert "exactly one" in found(validate_video_inference(both))["frameImages"].rule
    # Kling 1.0 takes a first frame only.
    kling = video(
        model="klingai:1@0",
        width=1280,
        height=720,
        duration=5,
        frameImages=[{"inputImage": FRAME, "frame": "last"}],
    )
    assert found(validate_video_inference(kling))["frameImages[0].frame"].value == "last"


def test_unknown_models_get_only_generic_rules() -> None:
    odd = video(model="newvendor:9@1", width=1000, height=1000, duration=3, deliveryMethod="sync", fps=31)
    assert validate_video_inference(odd) == []
    assert get_video_model_spec("newvendor:9@1").known is False
    broken = found(
        validate_video_inference(video(model="newvendor:9@1", frameImages=[{"inputImage": "", "frame": -1}]))
    )
    assert set(broken) == {"frameImages[0].inputImage", "frameImages[0].frame"}


def test_every_catalogued_video_model_names_its_page_and_has_a_price_or_none() -> None:
    priced = [spec for spec in VIDEO_MODELS.values() if spec.prices]
    assert len(priced) >= 3
    for spec in VIDEO_MODELS.values():
        assert spec.source_url.startswith("https://runware.ai/docs/")


def test_video_cost_estimates_follow_the_pages() -> None:
    hd = video(width=1920, height=1080)
    assert estimate_video_cost(hd) == pytest.approx(0.8)  # Veo 3.1 Fast: "$0.1/s for 1080p" x 8 s
    audio = video(width=1920, height=1080, providerSettings={"google": {"generateAudio": True}})
    assert estimate_video_cost(audio) == pytest.approx(1.2)
    # The page prices no 720p clip: no estimate rather than a guess.
    assert estimate_video_cost(video()) is None
    four_k = video(width=3840, height=2160)
    assert estimate_video_cost(four_k) == pytest.approx(2.4)
    hailuo = video(model="minimax:4@1", width=1920, height=1080, duration=6, numberResults=2)
    assert estimate_video_cost(hailuo) == pytest.approx(0.98)
    # No duration: the longest clip the size allows (1920x1080: only 6 s).
    assert estimate_video_cost(video(model="minimax:4@1", width=1920, height=1080, duration=None)) == 0.49
    kling = video(model="klingai:kling-video@3-standard", width=960, height=960, duration=5)
    assert estimate_video_cost(kling) == pytest.approx(0.63)  # audio unknown: the with-audio price
    assert estimate_video_cost(video(model="newvendor:9@1")) is None


def caption(**overrides: Any) -> dict[str, Any]:
    task: dict[str, Any] = {"taskType": "imageCaption", "taskUUID": TASK_UUID, "inputImage": FRAME}
    task.update(overrides)
    return {key: value for key, value in task.items() if value is not None}


def test_caption_rules() -> None:
    assert validate_image_caption(caption()) == []
    assert validate_image_caption(caption(model="runware:152@2", prompt="Describe the lighting")) == []
    assert (
        validate_image_caption(caption(inputImage=None, inputs={"image": FRAME}, model="runware:150@2")) == []
    )
    missing = found(validate_image_caption(caption(inputImage=None)))["inputImage"]
    assert missing.code == "missingInputImage"
    bad = found(validate_image_caption(caption(model="llava", includeCost="yes", prompt="")))
    assert bad["model"].value == "llava"
    assert "runware:150@2" in bad["model"].rule
    assert bad["includeCost"].value == "yes"
    assert bad["prompt"].value == ""


def enhance(**overrides: Any) -> dict[str, Any]:
    task: dict[str, Any] = {
        "taskType": "promptEnhance",
        "taskUUID": TASK_UUID,
        "prompt": "dog",
        "promptMaxLength": 64,
        "promptVersions": 4,
    }
    task.update(overrides)
    return {key: value for key, value in task.items() if value is not None}


def test_prompt_enhance_rules() -> None:
    assert validate_prompt_enhance(enhance()) == []
    assert validate_prompt_enhance(enhance(promptVersions=None)) == []
    bad = found(validate_prompt_enhance(enhance(prompt="x" * 301, promptMaxLength=8, promptVersions=6)))
    assert "1..300" in bad["prompt"].rule
    assert "301" in bad["prompt"].rule
    assert bad["promptMaxLength"].value == 8
    assert "12..400" in bad["promptMaxLength"].rule
    assert bad["promptVersions"].value == 6
    assert "1..5" in bad["promptVersions"].rule
    assert (
        found(validate_prompt_enhance(enhance(promptMaxLength=None)))["promptMaxLength"].code
        == "missingPromptMaxLength"
    )
    assert found(validate_prompt_enhance(enhance(prompt=None)))["prompt"].code == "missingPrompt"
    assert found(validate_prompt_enhance(enhance(promptVersions=2.0)))["promptVersions"].value == 2.0


def test_rule_modules_stay_cheap_to_import() -> None:
    """Imported at DAG-parse time: no pydantic, httpx or image libraries."""
    code = (
        "import sys\n"
        "import airflow_provider_runware.tasks.video_inference\n"
        "import airflow_provider_runware.tasks.image_caption\n"
        "import airflow_provider_runware.tasks.prompt_enhance\n"
        "heavy = [m for m in ('pydantic', 'httpx', 'PIL', 'av') if m in sys.modules]\n"
        "print(','.join(heavy))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
