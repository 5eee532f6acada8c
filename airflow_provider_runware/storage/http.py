"""``https://`` output locations: the user's own upload URL, passed through."""

from __future__ import annotations

import logging
from datetime import timedelta
from urllib.parse import quote, urlsplit

from airflow_provider_runware.exceptions import RunwareValidationError
from airflow_provider_runware.storage.base import (
    OBJECT_NAME_PLACEHOLDER,
    OutputLocation,
    UploadTarget,
    check_object_name,
    is_loopback_host,
    register_user_url_secrets,
    strip_secrets,
)

log = logging.getLogger(__name__)


class HttpOutputLocation(OutputLocation):
    """The user's own upload URL, passed through unchanged.

    With ``{object_name}`` in it, each image gets its own URL; without, it is one fixed URL that can
    hold only one image. Nothing can be read back, so :meth:`verify` cannot check anything. Plain
    ``http://`` is accepted only for loopback hosts (tests): user content must travel encrypted.
    """

    scheme = "https"

    def __init__(self, url_template: str) -> None:
        self.url_template = url_template

    @classmethod
    def from_uri(cls, output_location: str, storage_conn_id: str | None) -> HttpOutputLocation:
        location = cls(output_location)
        location.validate()
        if storage_conn_id:
            log.info("storage_conn_id %r is not used for %s", storage_conn_id, location.display_uri)
        return location

    @property
    def display_uri(self) -> str:
        return strip_secrets(self.url_template)

    @property
    def supports_many(self) -> bool:
        return OBJECT_NAME_PLACEHOLDER in self.url_template

    def validate(self) -> None:
        parts = urlsplit(self.url_template)
        scheme = parts.scheme.lower()
        if not parts.hostname or OBJECT_NAME_PLACEHOLDER in parts.netloc:
            raise RunwareValidationError(
                f"output_location {self.display_uri!r} has no fixed host: expected https://host/path "
                f"({OBJECT_NAME_PLACEHOLDER} may appear in the path or query only)",
                parameter="output_location",
            )
        if scheme == "http" and not is_loopback_host(parts.hostname):
            raise RunwareValidationError(
                f"output_location {self.display_uri!r} uses plain http: uploads of user content must be "
                "encrypted, so use https:// (http:// is accepted only for loopback hosts, for tests)",
                parameter="output_location",
            )
        if scheme not in ("http", "https"):
            raise RunwareValidationError(
                f"output_location {self.display_uri!r} is not an http(s) URL", parameter="output_location"
            )

    def uri_for(self, object_name: str) -> str:
        return strip_secrets(self._url_for(object_name))

    def target_for(self, object_name: str, expires_in: timedelta) -> UploadTarget:
        """Fill in ``{object_name}``; ``expires_in`` is the URL owner's business here.

        The user's URL is masked whole as well as by its query values: whatever makes it a secret
        (a token in the path, a parameter of any name) is the URL owner's choice."""
        url = self._url_for(object_name)
        register_user_url_secrets(url)
        return UploadTarget(uri=strip_secrets(url), upload_url=url)

    def _url_for(self, object_name: str) -> str:
        check_object_name(object_name)
        return self.url_template.replace(OBJECT_NAME_PLACEHOLDER, quote(object_name, safe="/"))

    def verify(self, target: UploadTarget) -> int:
        log.info(
            "Upload to %s not verified: a plain https upload URL offers no way to read the object back",
            target.uri,
        )
        return -1
