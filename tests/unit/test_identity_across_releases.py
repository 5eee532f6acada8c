"""A task instance's taskUUIDs and object names must not change when the provider is upgraded: a retry
that runs the new release while Runware still works on the old one's tasks must find them by the same
UUIDs (and meet ``conflictTaskUUID``), or it would pay for every image again.

The expected values were computed by the release before the package was reorganised into tasks/,
catalog/, api/ and run/ (commit 13bc6fa), from the same operators, so they are an oracle from outside
the code under test.
"""

from __future__ import annotations

import pytest

from airflow_provider_runware.operators.runware import (
    RunwareBackgroundRemovalOperator,
    RunwareImageInferenceOperator,
    RunwareImageTaskOperator,
    RunwareUpscaleOperator,
)
from airflow_provider_runware.run.execution import fingerprint
from airflow_provider_runware.run.identity import TaskInstanceIdentity, derive_task_uuid, object_name

IDENTITY = TaskInstanceIdentity(
    dag_id="campaign", run_id="scheduled__2026-12-01T06:00:00+00:00", task_id="g", map_index=3
)
PREFIX = "campaign/scheduled__2026-12-01T06-00-00-00-00/g/map-3/"
# (operator, row) -> (fingerprint, taskUUID of image 1, object name of image 1), as 13bc6fa derived them.
EXPECTED = {
    ("inference", 0): (
        "3a84652852e62ed5913fcfd3a36123c4",
        "0577bf1b-8e54-4fb9-90b9-7df4bbd9c1c0",
        "image-1.png",
    ),
    ("batch", 0): (
        "96b0a9221fd82c8a6eb83e11a051fc16",
        "979a558e-3b92-45c1-8132-f8bf9c2fc592",
        "row-00000-image-1.jpg",
    ),
    ("batch", 1): (
        "a22e38de28c87a374854564bba7a2cab",
        "f1d5a521-687e-42cc-88c2-a4046075d09b",
        "row-00001-image-1.jpg",
    ),
    ("upscale", 0): (
        "31b53b8fb6112764abc68bcbb1d6d632",
        "3310727f-6a74-4e99-a58b-fe13669fd004",
        "image-1.jpg",
    ),
    ("background_removal", 0): (
        "9abeeb9d79cf7e5636d8e3ee7a9f6ff1",
        "2d6ee2b5-cf04-40a4-9fd3-7026722a9474",
        "image-1.png",
    ),
}


def operator(name: str) -> RunwareImageTaskOperator:
    if name == "inference":
        return RunwareImageInferenceOperator(
            task_id="g",
            positive_prompt="a red mug on a table",
            model="openai:2@2",
            width=512,
            height=512,
            number_results=2,
            output_format="PNG",
            safety={"checkContent": True},
        )
    if name == "batch":
        return RunwareImageInferenceOperator(
            task_id="g",
            model="google:2@3",
            width=1024,
            height=1024,
            requests=[
                {"positive_prompt": "a lamp"},
                {"positive_prompt": "a bottle", "width": 1408, "height": 768},
            ],
        )
    if name == "upscale":
        return RunwareUpscaleOperator(task_id="u", input_image="s3://bucket/in/photo.png", upscale_factor=4)
    return RunwareBackgroundRemovalOperator(task_id="b", input_image="https://example.com/p.jpg")


@pytest.mark.filterwarnings("ignore::airflow_provider_runware.operators.base.RunwareModelLifecycleWarning")
@pytest.mark.parametrize(("name", "row"), list(EXPECTED))
def test_an_upgrade_derives_the_same_task_uuids_and_object_names(name: str, row: int) -> None:
    op = operator(name)
    request = op._rows()[0][row]
    batch_row = row if op.requests is not None else None
    found = fingerprint(request, "s3://bucket/out/", None)
    expected_fingerprint, expected_uuid, expected_object = EXPECTED[(name, row)]
    assert found == expected_fingerprint
    assert derive_task_uuid(IDENTITY, 1, found, 0, row=batch_row) == expected_uuid
    name_of_object = object_name(IDENTITY, 1, str(request.file_format()), row=batch_row, kind=request.RESULT)
    assert name_of_object == PREFIX + expected_object
