"""Video, captions and prompts through Airflow's real task machinery (dag.test with deferral, retries)
against the emulator over HTTP, with outputs in real object-store servers (moto S3, the GCS emulator
behind a signature-verifying front, Azurite)."""

from __future__ import annotations

import io
from collections import Counter
from typing import Any

import pytest
from airflow_runs import DagOutcome, run_dag
from azure_fixtures import Azurite
from azure_fixtures import azure_container_fixture as azure_container_fixture
from azure_fixtures import azurite_fixture as azurite_fixture
from azure_fixtures import blob_service_fixture as blob_service_fixture
from azure_fixtures import wasb_conn_fixture as wasb_conn_fixture
from emulator_handle import EmulatorHandle

SCENARIOS = "runware_video_text_scenarios.py"
PHOTOS = ("mug.png", "bottle.png")


def videos_submitted(runware: EmulatorHandle) -> Counter[str]:
    """videoInference submissions per taskUUID (a count above 1 is a resubmission)."""
    return Counter(entry["taskUUID"] for entry in runware.tasks_of_type("videoInference"))


def returned(outcome: DagOutcome, task_id: str = "generate") -> list[dict[str, Any]]:
    (value,) = outcome.xcom(task_id)
    assert isinstance(value, list)
    return value


def decode(clip: bytes) -> tuple[int, tuple[int, int]]:
    """Frame count and frame size of a video file, read with PyAV (a real decoder, not our encoder)."""
    import av

    with av.open(io.BytesIO(clip)) as container:
        frames = [frame.to_image() for frame in container.decode(video=0)]
    return len(frames), frames[0].size


def upload_photos(s3_client: Any, bucket: str) -> list[str]:
    from pathlib import Path

    photos = Path(__file__).resolve().parents[2] / "example_dags" / "data" / "products"
    for name in PHOTOS:
        s3_client.put_object(Bucket=bucket, Key=f"photos/{name}", Body=(photos / name).read_bytes())
    return [f"s3://{bucket}/photos/{name}" for name in PHOTOS]


def test_deferred_videos_land_in_s3_each_paid_once(
    airflow: EmulatorHandle, s3_bucket: str, aws_conn: str, s3_client: Any
) -> None:
    outcome = run_dag(
        SCENARIOS,
        "runware_video_deferrable",
        conf={"output_location": f"s3://{s3_bucket}/videos/", "storage_conn_id": aws_conn},
    )
    assert outcome.tasks == {"generate": ("success", 1)}, outcome.tasks
    videos = returned(outcome)
    assert sorted(video["index"] for video in videos) == [0, 1]
    assert set(videos_submitted(airflow).values()) == {1}
    assert len(videos_submitted(airflow)) == 2
    for video in videos:
        assert video["storage_uri"].endswith(f"/video-{video['index']}.mp4")
        assert video["format"] == "MP4"
        assert video["cost"] == pytest.approx(0.63)
        assert "video_url" not in video, "a stored video is reported by its object, never a URL"
        key = video["storage_uri"].removeprefix(f"s3://{s3_bucket}/")
        clip = s3_client.get_object(Bucket=s3_bucket, Key=key)["Body"].read()
        assert video["bytes"] == len(clip)
        frames, _size = decode(clip)
        assert frames > 1


def test_videos_land_in_gcs_through_verified_signatures(
    airflow: EmulatorHandle, gcs_bucket: str, gcs_conn: str, gcs_client: Any, gcs_front: Any
) -> None:
    outcome = run_dag(
        SCENARIOS,
        "runware_video_deferrable",
        conf={"output_location": f"gs://{gcs_bucket}/videos/", "storage_conn_id": gcs_conn},
    )
    assert outcome.state == "success", outcome.tasks
    blobs = {f"gs://{gcs_bucket}/{blob.name}": blob for blob in gcs_client.list_blobs(gcs_bucket)}
    videos = returned(outcome)
    assert sorted(video["storage_uri"] for video in videos) == sorted(blobs)
    for video in videos:
        assert decode(blobs[video["storage_uri"]].download_as_bytes())[0] > 1
    assert len(gcs_front.signed("accepted")) == 2
    assert gcs_front.refused() == []


def test_videos_land_in_azure_with_a_video_content_type(
    airflow: EmulatorHandle, azurite: Azurite, azure_container: str, wasb_conn: str, blob_service: Any
) -> None:
    outcome = run_dag(
        SCENARIOS,
        "runware_video_deferrable",
        conf={"output_location": azurite.location(azure_container, "videos/"), "storage_conn_id": wasb_conn},
    )
    assert outcome.state == "success", outcome.tasks
    container = blob_service.get_container_client(azure_container)
    stored = {item.name: item for item in container.list_blobs()}
    assert len(stored) == 2
    for name, item in stored.items():
        assert name.endswith(".mp4")
        assert item.content_settings.content_type == "video/mp4"
        assert decode(container.download_blob(name).readall())[0] > 1


def test_image_to_video_rows_start_from_their_photos(
    airflow: EmulatorHandle, s3_bucket: str, aws_conn: str, s3_client: Any
) -> None:
    """The batch form, one row per photo in the bucket: each photo reaches Runware as a short-lived
    presigned GET (never stored in the record), and each video's first frame is its own photo."""
    from PIL import Image, ImageStat

    photos = upload_photos(s3_client, s3_bucket)
    rows = [{"frame_images": [photo]} for photo in photos]
    outcome = run_dag(
        SCENARIOS,
        "runware_video_from_photos",
        conf={"output_location": f"s3://{s3_bucket}/clips/", "storage_conn_id": aws_conn, "rows": rows},
    )
    assert outcome.tasks == {"generate": ("success", 1)}, outcome.tasks
    videos = sorted(returned(outcome), key=lambda video: video["row"])
    assert [video["frame_images"] for video in videos] == [[{"image": p, "frame": "first"}] for p in photos]
    sent = [entry["task"]["inputs"]["frameImages"][0] for entry in airflow.tasks_of_type("videoInference")]
    assert all("X-Amz-Signature=" in frame["inputImage"] for frame in sent), "photos go as presigned GETs"
    for video, name in zip(videos, PHOTOS, strict=True):
        import av

        key = video["storage_uri"].removeprefix(f"s3://{s3_bucket}/")
        with av.open(io.BytesIO(s3_client.get_object(Bucket=s3_bucket, Key=key)["Body"].read())) as clip:
            first = next(clip.decode(video=0)).to_image().convert("RGB")
        photo = Image.open(
            io.BytesIO(s3_client.get_object(Bucket=s3_bucket, Key=f"photos/{name}")["Body"].read())
        )
        expected = ImageStat.Stat(photo.convert("RGB").resize(first.size)).mean
        distance = max(abs(a - b) for a, b in zip(ImageStat.Stat(first).mean, expected, strict=True))
        assert distance < 12, f"row {video['row']}: first frame is not {name} (distance {distance:.1f})"


def test_a_retry_regenerates_only_the_failed_video(airflow: EmulatorHandle) -> None:
    airflow.fault(kind="fail_generation", count=1, code="inferenceError", message="GPU on fire")
    outcome = run_dag(SCENARIOS, "runware_video_partial_then_retry")
    assert outcome.tasks == {"generate": ("success", 2)}, outcome.tasks
    submitted = videos_submitted(airflow)
    assert len(submitted) == 3, "2 videos + 1 regeneration under a new taskUUID"
    assert set(submitted.values()) == {1}, "the video that finished was never paid for again"
    assert sorted(video["index"] for video in returned(outcome)) == [0, 1]


def test_the_sensor_waits_for_videos_submitted_elsewhere(airflow: EmulatorHandle) -> None:
    outcome = run_dag(SCENARIOS, "runware_video_submit_and_sense")
    assert outcome.tasks == {"submit": ("success", 1), "wait": ("success", 1)}, outcome.tasks
    (uuids,) = outcome.xcom("submit")
    videos = returned(outcome, "wait")
    assert sorted(video["task_uuid"] for video in videos) == sorted(uuids)
    for video in videos:
        assert video["video_url"].startswith(f"{airflow.root_url}/videos/")
        assert video["video_uuid"]
        assert "image_uuid" not in video
    assert set(videos_submitted(airflow).values()) == {1}


def test_the_cost_guard_refuses_videos_before_any_post(airflow: EmulatorHandle) -> None:
    outcome = run_dag(SCENARIOS, "runware_video_cost_guard")
    assert outcome.tasks == {"generate": ("failed", 1)}, outcome.tasks
    assert airflow.tasks_of_type("videoInference") == []


def test_captions_and_enhanced_prompts_are_small_text_records(
    airflow: EmulatorHandle, s3_bucket: str, aws_conn: str, s3_client: Any
) -> None:
    photos = upload_photos(s3_client, s3_bucket)
    outcome = run_dag(
        SCENARIOS,
        "runware_text_tasks",
        conf={"storage_conn_id": aws_conn, "rows": [{"input_image": photo} for photo in photos]},
    )
    assert outcome.tasks == {"caption": ("success", 1), "enhance": ("success", 1)}, outcome.tasks
    captions = sorted(returned(outcome, "caption"), key=lambda record: record["row"])
    assert [caption["input_image"] for caption in captions] == photos
    assert all(isinstance(caption["text"], str) and caption["text"] for caption in captions)
    assert captions[0]["text"] != captions[1]["text"], "two different photos, two different captions"
    prompts = returned(outcome, "enhance")
    assert sorted(prompt["index"] for prompt in prompts) == [0, 1, 2]
    enhance_tasks = airflow.tasks_of_type("promptEnhance")
    assert len({entry["taskUUID"] for entry in enhance_tasks}) == 3, "each version is its own task"
    assert {entry["task"]["promptVersions"] for entry in enhance_tasks} == {1}
    assert {entry["task"]["prompt"] for entry in enhance_tasks} == {captions[0]["text"][:200]}
    assert all(prompt["text"] for prompt in prompts)
