"""``s3://`` output locations through the amazon provider's S3Hook."""

from __future__ import annotations

import logging
import re
from datetime import timedelta
from functools import cached_property
from typing import TYPE_CHECKING, Any, Literal

from airflow_provider_runware.exceptions import RunwareUploadError, RunwareValidationError
from airflow_provider_runware.storage.base import BucketOutputLocation

if TYPE_CHECKING:
    from airflow.providers.amazon.aws.hooks.s3 import S3Hook

log = logging.getLogger(__name__)

DEFAULT_AWS_CONN_ID = "aws_default"
S3_MAX_EXPIRY = timedelta(days=7)
# Today's rule is 3-63 lowercase characters; older us-east-1 buckets may be longer, with capitals and "_".
S3_BUCKET_PATTERN = re.compile(r"[A-Za-z0-9._-]{3,255}")


class S3OutputLocation(BucketOutputLocation):
    """``s3://bucket/prefix/`` through the amazon provider's :class:`S3Hook`.

    URLs are always SigV4 (boto3 otherwise presigns SigV2, which newer regions reject) and sign only the
    ``host`` header: a signed Content-Type would have to be sent back identically by Runware, and we do
    not control its headers.
    """

    scheme = "s3"
    max_expiry = S3_MAX_EXPIRY
    default_conn_id = DEFAULT_AWS_CONN_ID
    bucket_pattern = S3_BUCKET_PATTERN
    bucket_rule = "3 to 255 characters: ASCII letters, digits, '.', '-' and '_'"
    connection_kind = "Amazon Web Services"

    @cached_property
    def hook(self) -> S3Hook:
        from airflow.providers.amazon.aws.hooks.s3 import S3Hook

        return S3Hook(aws_conn_id=self.conn_id)

    # -- validate ---------------------------------------------------------------------------------

    def validate(self) -> None:
        self.check_bucket_name()
        self._validate_connection()
        self._validate_credentials()
        self._validate_bucket_exists()

    def _validate_connection(self) -> None:
        """A named connection must exist; a missing ``aws_default`` means boto3's default credential chain."""
        if self.conn_id_given:
            self.check_connection_exists()

    def _validate_credentials(self) -> None:
        """Presigning needs credentials; finding none now beats a failure after images were paid for."""
        from botocore.exceptions import BotoCoreError

        try:
            credentials = self.hook.get_session(region_name=self.hook.region_name).get_credentials()
        except BotoCoreError as err:
            raise RunwareValidationError(
                f"storage_conn_id {self.conn_id!r}: could not load AWS credentials ({err})",
                parameter="storage_conn_id",
            ) from err
        if credentials is None:
            raise RunwareValidationError(
                f"storage_conn_id {self.conn_id!r} gives no AWS credentials (no access key in the "
                "connection, and none in the environment, profile or instance role); presigning "
                f"uploads to {self.display_uri} needs them",
                parameter="storage_conn_id",
            )

    def _validate_bucket_exists(self) -> None:
        """Catch a misspelt bucket before images are paid for; only a clear "no such bucket" refuses.

        A write-only role may not be allowed to HEAD the bucket (403), and a network hiccup must not
        fail the task for good: both are logged and left to the upload check.
        """
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            self.hook.get_conn().head_bucket(Bucket=self.bucket)
        except ClientError as err:
            code = str(err.response.get("Error", {}).get("Code", ""))
            if code in ("404", "NoSuchBucket", "NotFound"):
                raise RunwareValidationError(
                    f"output_location {self.display_uri!r}: bucket {self.bucket!r} does not exist "
                    f"(as seen through connection {self.conn_id!r})",
                    parameter="output_location",
                ) from err
            log.info("Could not confirm that bucket %r exists (%s); continuing", self.bucket, code)
        except BotoCoreError as err:
            log.warning("Could not confirm that bucket %r exists (%s); continuing", self.bucket, err)

    # -- presign ----------------------------------------------------------------------------------

    @cached_property
    def _presign_client(self) -> Any:
        """An S3 client from the hook's connection (endpoint, credentials, config) but forced to SigV4.

        ``S3Hook.generate_presigned_url`` uses the hook's cached client, whose signature version comes
        from the connection; passing ``config=`` to the hook would replace the connection's
        ``config_kwargs`` entirely. So merge SigV4 into the connection's own config instead.
        """
        from botocore.config import Config

        config = self.hook.config.merge(Config(signature_version="s3v4"))
        return self.hook.get_client_type(region_name=self._signing_region(), config=config)

    def _signing_region(self) -> str | None:
        """The region SigV4 must name: the connection's, else the bucket's own (AWS refuses a mismatch)."""
        if self.hook.region_name or self.hook.conn_config.get_service_endpoint_url(service_name="s3"):
            return self.hook.region_name
        return self._bucket_region()

    def _bucket_region(self) -> str | None:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            location = self.hook.get_conn().get_bucket_location(Bucket=self.bucket)
        except (BotoCoreError, ClientError) as err:
            log.warning(
                "Connection %r sets no region and the region of bucket %r could not be read (%s); "
                "presigning with boto3's default region",
                self.conn_id,
                self.bucket,
                err,
            )
            return None
        return location.get("LocationConstraint") or "us-east-1"

    def sign_url(self, method: Literal["PUT", "GET"], key: str, seconds: int, uri: str) -> str:
        """A presigned ``put_object`` (uploads) or ``get_object`` (image inputs); only the host header
        is signed."""
        from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

        try:
            url = self._presign_client.generate_presigned_url(
                ClientMethod="put_object" if method == "PUT" else "get_object",
                Params={"Bucket": self.bucket, "Key": key},
                ExpiresIn=seconds,
                HttpMethod=method,
            )
        except NoCredentialsError as err:
            raise RunwareValidationError(
                f"storage_conn_id {self.conn_id!r} gives no AWS credentials to presign {uri}",
                parameter="storage_conn_id",
            ) from err
        except (BotoCoreError, ClientError) as err:
            raise RunwareUploadError(f"Could not presign a {method} URL for {uri}: {err}") from err
        if not isinstance(url, str) or not url:
            raise RunwareUploadError(f"Could not presign a {method} URL for {uri}: boto3 returned {url!r}")
        return url

    # -- verify -----------------------------------------------------------------------------------

    def object_size(self, key: str, uri: str) -> int | None:
        """HEAD the object; ``None`` when absent. Denied or failing checks are upload errors too."""
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            head = self.hook.head_object(key=key, bucket_name=self.bucket)
            return None if head is None else int(head.get("ContentLength") or 0)
        except ClientError as err:
            error = err.response.get("Error", {})
            raise RunwareUploadError(
                f"Could not check upload {uri}: {error.get('Code', 'error')} "
                f"{error.get('Message', '')}".rstrip()
            ) from err
        except BotoCoreError as err:
            raise RunwareUploadError(f"Could not check upload {uri}: {err}") from err
