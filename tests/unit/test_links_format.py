"""The "Stored images" link's URL from persisted data (pure), and its registration with Airflow."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from airflow_provider_runware import get_provider_info
from airflow_provider_runware.links import RunwareStoredImagesLink, stored_images_url


def test_gcs_console_url_names_bucket_folder_and_project() -> None:
    url = stored_images_url(
        {
            "cloud": "gs",
            "bucket": "acme",
            "prefix": "runware/day 1/",
            "project": "acme-prod",
            "endpoint": None,
        }
    )

    assert url == "https://console.cloud.google.com/storage/browser/acme/runware/day%201/?project=acme-prod"


def test_azure_portal_url_when_the_connection_names_the_resource() -> None:
    url = stored_images_url(
        {
            "cloud": "azure",
            "account": "acmeimages",
            "container": "campaigns",
            "prefix": "runware/",
            "endpoint": "https://acmeimages.blob.core.windows.net",
            "local": False,
            "subscription_id": "0000-1111",
            "resource_group": "rg-images",
        }
    )

    assert url == (
        "https://portal.azure.com/#@/resource/subscriptions/0000-1111/resourceGroups/rg-images"
        "/providers/Microsoft.Storage/storageAccounts/acmeimages/containersList"
    )


def test_azure_without_resource_names_lists_the_container_on_its_endpoint() -> None:
    url = stored_images_url(
        {
            "cloud": "azure",
            "account": "acmeimages",
            "container": "campaigns",
            "prefix": "runware/",
            "endpoint": "https://acmeimages.blob.core.windows.net",
            "local": False,
        }
    )

    assert url.startswith("https://acmeimages.blob.core.windows.net/campaigns?")
    assert parse_qs(urlsplit(url).query)["prefix"] == ["runware/"]


def test_unknown_data_gives_no_link() -> None:
    assert stored_images_url({}) == ""


def test_link_is_registered_in_provider_info_and_has_a_stable_xcom_key() -> None:
    assert get_provider_info()["extra-links"] == [
        "airflow_provider_runware.links.RunwareStoredImagesLink",
        "airflow_provider_runware.links.RunwareGalleryLink",
    ]
    link = RunwareStoredImagesLink()
    assert link.name == "Stored images"
    assert link.xcom_key == "_link_RunwareStoredImagesLink"
    assert link.xcom_key != RunwareStoredImagesLink.key  # the UI's URL never overwrites the persisted data
