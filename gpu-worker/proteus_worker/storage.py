"""
Object storage for the worker: reading a job's images and writing its result, with boto3 set to
compute and check checksums only when an operation requires them (S3-compatible stores, Linode
included, reject the 2025 default checksums). Errors are sorted into the job's fate: a missing or
oversized object fails the job for good; anything else (the store down, a 5xx) is retried by
redelivery.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from proteus_worker.engines.base import JobFailed
from proteus_worker.settings import WorkerSettings

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

DEFAULT_BUCKET = "proteus"
DEFAULT_REGION = "us-east-1"
_MISSING = {"NoSuchKey", "404", "NotFound"}


class StorageUnavailable(Exception):
    """The store did not answer or failed; the job is left for redelivery."""


def s3_client(settings: WorkerSettings, pool: int = 16) -> S3Client:
    config = Config(
        request_checksum_calculation="when_required",
        response_checksum_validation="when_required",
        s3={"addressing_style": "path"},
        retries={"max_attempts": 3, "mode": "standard"},
        max_pool_connections=pool,
        connect_timeout=5,
        read_timeout=30,
    )
    return boto3.session.Session().client(
        "s3",
        endpoint_url=settings.object_storage_endpoint,
        region_name=settings.object_storage_region or DEFAULT_REGION,
        aws_access_key_id=settings.object_storage_access_key,
        aws_secret_access_key=settings.object_storage_secret_key,
        config=config,
    )


class ObjectStore:
    def __init__(self, client: S3Client, bucket: str) -> None:
        self.client = client
        self.bucket = bucket

    def read(self, key: str, what: str, max_bytes: int) -> bytes:
        """The object's bytes; JobFailed when it is missing, empty or larger than `max_bytes`."""
        try:
            answer = self.client.get_object(Bucket=self.bucket, Key=key)
        except ClientError as error:
            code = str(error.response.get("Error", {}).get("Code", ""))
            if code in _MISSING:
                raise JobFailed(f"{what} {key} does not exist in object storage") from None
            raise StorageUnavailable(f"reading {key}: {error}") from error
        except BotoCoreError as error:
            raise StorageUnavailable(f"reading {key}: {error}") from error
        body = answer["Body"]
        try:
            size = int(answer.get("ContentLength", 0))
            if size > max_bytes:
                raise JobFailed(f"{what} {key} has {size} bytes, at most {max_bytes}")
            data = body.read(max_bytes + 1)
        except BotoCoreError as error:
            raise StorageUnavailable(f"reading {key}: {error}") from error
        finally:
            body.close()
        if len(data) > max_bytes:
            raise JobFailed(f"{what} {key} has more than {max_bytes} bytes")
        if not data:
            raise JobFailed(f"{what} {key} is empty")
        return data

    def write(self, key: str, data: bytes, content_type: str) -> None:
        try:
            self.client.put_object(Bucket=self.bucket, Key=key, Body=data, ContentType=content_type)
        except (ClientError, BotoCoreError) as error:
            raise StorageUnavailable(f"writing {key}: {error}") from error
