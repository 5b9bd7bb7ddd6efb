"""Blobs in any S3-compatible bucket (AWS, MinIO, nanio...), via boto3 with SigV4 and path style."""

from __future__ import annotations

import io
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, ClassVar

from mediaforge.storage.base import (
    CHUNK_SIZE,
    BlobNotFound,
    ChunkReader,
    Payload,
    Storage,
    StorageError,
    StoredObject,
    check_range,
    iter_payload,
)
from mediaforge.storage.keys import validate_key
from mediaforge.storage.signing import content_disposition

if TYPE_CHECKING:
    from botocore.response import StreamingBody
    from mypy_boto3_s3 import S3Client

__all__ = ["S3Storage"]

_MISSING_OBJECT = frozenset({"NoSuchKey", "404", "NotFound"})
_MISSING_BUCKET = frozenset({"NoSuchBucket", "404", "NotFound"})
# Real S3 answers an unsatisfiable range with InvalidRange (416); some servers say InvalidArgument.
_BAD_RANGE = frozenset({"InvalidRange", "InvalidArgument"})
_PART_SIZE = 8 * CHUNK_SIZE


class S3Storage(Storage):
    """Keys live under an optional ``prefix`` in one bucket; signed URLs are S3 presigned URLs."""

    name: ClassVar[str] = "s3"

    def __init__(
        self,
        bucket: str,
        *,
        prefix: str = "",
        endpoint_url: str | None = None,
        region: str = "us-east-1",
        access_key: str | None = None,
        secret_key: str | None = None,
    ) -> None:
        try:
            from boto3.s3.transfer import TransferConfig
            from boto3.session import Session
            from botocore.config import Config
        except ImportError as exc:
            raise StorageError("the S3 storage backend needs boto3: pip install 'mediaforge[s3]'") from exc
        self.bucket = bucket
        self.prefix = validate_key(prefix.strip("/")) if prefix.strip("/") else ""
        self.region = region
        config = Config(
            signature_version="s3v4",
            s3={"addressing_style": "path"},
            request_checksum_calculation="when_required",
            response_checksum_validation="when_required",
            connect_timeout=5,
            read_timeout=60,
            retries={"max_attempts": 3, "mode": "standard"},
        )
        self._client: S3Client = Session().client(
            "s3",
            endpoint_url=endpoint_url,
            region_name=region,
            aws_access_key_id=access_key,
            aws_secret_access_key=secret_key,
            config=config,
        )
        self._transfer = TransferConfig(
            multipart_threshold=_PART_SIZE, multipart_chunksize=_PART_SIZE, max_concurrency=4
        )

    def put(self, key: str, data: Payload, *, content_type: str | None = None) -> StoredObject:
        target = self._object_key(key)
        extra: dict[str, Any] = {"ContentType": content_type} if content_type else {}
        if isinstance(data, bytes | bytearray | memoryview):
            body = bytes(data)
            with _translate(key):
                self._client.put_object(Bucket=self.bucket, Key=target, Body=body, **extra)
            return StoredObject(key=key, size=len(body), content_type=content_type)
        raw = ChunkReader(iter_payload(data))
        with _translate(key):
            self._client.upload_fileobj(
                io.BufferedReader(raw, CHUNK_SIZE),
                self.bucket,
                target,
                ExtraArgs=extra,
                Config=self._transfer,
            )
        return StoredObject(key=key, size=raw.consumed, content_type=content_type)

    def open(self, key: str, *, start: int = 0, end: int | None = None) -> Iterator[bytes]:
        check_range(start, end)
        if end is not None and end <= start:
            self.stat(key)
            return iter(())
        try:
            body = self._get(key, start, end)
        except _RangeNotSatisfiable:
            size = self.stat(key).size
            stop = size if end is None else min(end, size)
            if start >= stop:
                return iter(())
            body = self._get(key, start, stop)
        return _stream(body)

    def stat(self, key: str) -> StoredObject:
        target = self._object_key(key)
        with _translate(key):
            head = self._client.head_object(Bucket=self.bucket, Key=target)
        return StoredObject(key=key, size=head["ContentLength"], content_type=head.get("ContentType"))

    def delete(self, key: str) -> None:
        target = self._object_key(key)
        with _translate(key):
            self._client.delete_object(Bucket=self.bucket, Key=target)

    def signed_url(
        self, key: str, *, expires_in: int, filename: str | None = None, method: str = "GET"
    ) -> str:
        params: dict[str, Any] = {"Bucket": self.bucket, "Key": self._object_key(key)}
        if method.upper() == "GET":
            operation = "get_object"
            if filename:
                params["ResponseContentDisposition"] = content_disposition(filename)
        elif method.upper() == "PUT":
            operation = "put_object"
        else:
            raise ValueError(f"S3 presigned URLs support GET and PUT, not {method!r}")
        with _translate(key):
            return self._client.generate_presigned_url(operation, Params=params, ExpiresIn=expires_in)

    def check(self) -> None:
        with _translate(None):
            self._client.head_bucket(Bucket=self.bucket)

    def create_bucket_if_missing(self) -> None:
        """Create the bucket unless it exists (for dev setups and tests)."""
        from botocore.exceptions import ClientError

        with _translate(None):
            try:
                self._client.head_bucket(Bucket=self.bucket)
                return
            except ClientError as exc:
                if _code(exc) not in _MISSING_BUCKET:
                    raise
            kwargs: dict[str, Any] = {"Bucket": self.bucket}
            if self.region != "us-east-1":
                kwargs["CreateBucketConfiguration"] = {"LocationConstraint": self.region}
            try:
                self._client.create_bucket(**kwargs)
            except ClientError as exc:
                if _code(exc) != "BucketAlreadyOwnedByYou":
                    raise

    def _object_key(self, key: str) -> str:
        validate_key(key)
        return f"{self.prefix}/{key}" if self.prefix else key

    def _get(self, key: str, start: int, end: int | None) -> StreamingBody:
        from botocore.exceptions import ClientError

        kwargs: dict[str, Any] = {"Bucket": self.bucket, "Key": self._object_key(key)}
        if start or end is not None:
            kwargs["Range"] = f"bytes={start}-{'' if end is None else end - 1}"
        with _translate(key):
            try:
                return self._client.get_object(**kwargs)["Body"]
            except ClientError as exc:
                if "Range" in kwargs and _code(exc) in _BAD_RANGE:
                    raise _RangeNotSatisfiable from exc
                raise

    def __repr__(self) -> str:
        return f"<S3Storage s3://{self.bucket}/{self.prefix}>"


class _RangeNotSatisfiable(Exception):
    """The server refused a byte range; the caller clamps it to the blob size and asks again."""


def _stream(body: StreamingBody) -> Iterator[bytes]:
    from botocore.exceptions import BotoCoreError

    try:
        yield from body.iter_chunks(CHUNK_SIZE)
    except BotoCoreError as exc:
        raise StorageError(f"S3 read failed ({type(exc).__name__})") from exc
    finally:
        body.close()


def _code(exc: Any) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


@contextmanager
def _translate(key: str | None) -> Iterator[None]:
    """Map boto errors onto ``BlobNotFound`` (for object calls) and ``StorageError``."""
    from boto3.exceptions import S3UploadFailedError
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        yield
    except ClientError as exc:
        code = _code(exc)
        if key is not None and code in _MISSING_OBJECT:
            raise BlobNotFound(f"blob {key!r} not found") from exc
        raise StorageError(f"S3 request failed ({code or 'unknown error'})") from exc
    except (BotoCoreError, S3UploadFailedError) as exc:
        raise StorageError(f"S3 request failed ({type(exc).__name__})") from exc
