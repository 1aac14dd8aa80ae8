"""S3-compatible object storage through the minio SDK (SeaweedFS, MinIO or AWS S3)."""
from __future__ import annotations

import io
import os
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Iterator, Mapping

from minio import Minio
from minio.commonconfig import COMPLIANCE, GOVERNANCE
from minio.error import S3Error
from minio.helpers import genheaders
from minio.retention import Retention as S3Retention

from plugins.config import Storage


@dataclass(frozen=True)
class S3Settings:
    endpoint: str
    access_key: str
    secret_key: str
    region: str
    secure: bool
    inbox_bucket: str
    archive_bucket: str
    work_bucket: str


def s3_settings(storage: Storage, env: Mapping[str, str] | None = None) -> S3Settings:
    """Settings from config/storage.yaml, each overridable by its environment variable.

    The credentials are the environment's (POSTLOAN_S3_ACCESS_KEY / POSTLOAN_S3_SECRET_KEY, as storage.yaml
    names them): whoever runs a command acts as the identity whose credentials they give. Without them, on a
    loopback endpoint, the pipeline's development credentials of the local server (generated into the state
    folder at its first start, plugins/archive/identities.py); none are kept in config/."""
    env = os.environ if env is None else env
    endpoint = env.get("POSTLOAN_S3_ENDPOINT", storage.endpoint)
    access_key, secret_key = env.get(storage.access_key_env), env.get(storage.secret_key_env)
    if not (access_key and secret_key):
        access_key, secret_key = _default_credentials(storage, endpoint, env)
    return S3Settings(
        endpoint=endpoint,
        access_key=access_key,
        secret_key=secret_key,
        region=env.get("POSTLOAN_S3_REGION", storage.region),
        secure=env.get("POSTLOAN_S3_SECURE", str(storage.secure)).lower() in ("1", "true", "yes"),
        inbox_bucket=env.get("POSTLOAN_BUCKET_INBOX", storage.buckets.inbox),
        archive_bucket=env.get("POSTLOAN_BUCKET_ARCHIVE", storage.buckets.archive),
        work_bucket=env.get("POSTLOAN_BUCKET_WORK", storage.buckets.work),
    )


def _default_credentials(storage: Storage, endpoint: str, env: Mapping[str, str]) -> tuple[str, str]:
    from plugins.archive.identities import PIPELINE, local_credentials_path, read_credentials

    if endpoint.rsplit(":", 1)[0].strip("[]") in ("127.0.0.1", "localhost", "::1"):
        pipeline = read_credentials(local_credentials_path(env)).get(PIPELINE)
        if pipeline and pipeline.secret_key:
            return pipeline.access_key, pipeline.secret_key
    # Not started yet (the server writes them at its first start), or a remote endpoint without credentials:
    # the server refuses these, and the error names the variables to set.
    return getattr(storage, "local_access_key", None) or "", getattr(storage, "local_secret_key", None) or ""


@dataclass(frozen=True)
class StoredObject:
    bucket: str
    key: str
    version_id: str | None
    size: int


@dataclass(frozen=True)
class ObjectVersion:
    """One version of a key, as ListObjectVersions reports it (newest first per key, by the S3 spec)."""
    key: str
    version_id: str | None
    is_latest: bool
    size: int
    is_delete_marker: bool = False


@dataclass(frozen=True)
class ObjectInfo:
    """What the server says about one version: user metadata, retention and legal hold."""
    key: str
    version_id: str | None
    size: int
    metadata: dict[str, str]
    retain_until: datetime | None
    lock_mode: str | None
    legal_hold: bool


_META_PREFIX = "x-amz-meta-"


class ObjectStore:
    """The few object operations postloan needs, over one minio client."""

    def __init__(self, settings: S3Settings):
        self.settings = settings
        self.client = Minio(
            settings.endpoint,
            access_key=settings.access_key,
            secret_key=settings.secret_key,
            region=settings.region,
            secure=settings.secure,
        )

    def ensure_buckets(self) -> None:
        """Create the buckets if missing; the archive bucket with object lock (implies versioning)."""
        s = self.settings
        for bucket, locked in ((s.inbox_bucket, False), (s.work_bucket, False), (s.archive_bucket, True)):
            if not self.client.bucket_exists(bucket):
                self.client.make_bucket(bucket, object_lock=locked)

    def put(
        self,
        bucket: str,
        key: str,
        data: bytes,
        content_type: str = "application/octet-stream",
        metadata: Mapping[str, str] | None = None,
        retain_until: datetime | None = None,
        lock_mode: str = "COMPLIANCE",
    ) -> StoredObject:
        retention = _retention(retain_until, lock_mode)
        result = self.client.put_object(
            bucket,
            key,
            io.BytesIO(data),
            len(data),
            content_type=content_type,
            metadata=dict(metadata or {}),
            retention=retention,
        )
        return StoredObject(bucket, key, result.version_id, len(data))

    def put_if_absent(
        self,
        bucket: str,
        key: str,
        data: bytes,
        content_type: str = "application/octet-stream",
        metadata: Mapping[str, str] | None = None,
        retain_until: datetime | None = None,
        lock_mode: str = "COMPLIANCE",
    ) -> StoredObject | None:
        """Write `key` only if the server has no current object under it (a conditional put, `If-None-Match: *`):
        of two writers racing for one content-addressed key exactly one succeeds, the other gets None and no
        second version is made. One request, no multipart, so the condition covers the whole write."""
        retention = _retention(retain_until, lock_mode)
        headers = genheaders(dict(metadata or {}), None, None, retention, False)
        headers["Content-Type"] = content_type
        headers["If-None-Match"] = "*"
        try:
            result = self.client._put_object(bucket, key, data, headers)
        except S3Error as exc:
            if exc.code in ("PreconditionFailed", "ConditionalRequestConflict"):
                return None
            raise
        return StoredObject(bucket, key, result.version_id, len(data))

    def get(self, bucket: str, key: str, version_id: str | None = None) -> bytes:
        response = self.client.get_object(bucket, key, version_id=version_id)
        try:
            return response.read()
        finally:
            response.close()
            response.release_conn()

    def exists(self, bucket: str, key: str) -> bool:
        try:
            self.client.stat_object(bucket, key)
            return True
        except S3Error as exc:
            if exc.code in ("NoSuchKey", "NoSuchObject", "NoSuchVersion", "ResourceNotFound"):
                return False
            raise

    def list_keys(self, bucket: str, prefix: str) -> Iterator[str]:
        for obj in self.client.list_objects(bucket, prefix=prefix, recursive=True):
            if not obj.is_dir:
                yield obj.object_name

    def versions(self, bucket: str, prefix: str = "", delete_markers: bool = False) -> Iterator[ObjectVersion]:
        """Every stored version under `prefix`; delete markers too when asked (`is_delete_marker`)."""
        for obj in self.client.list_objects(bucket, prefix=prefix, recursive=True, include_version=True):
            if obj.is_dir or (obj.is_delete_marker and not delete_markers):
                continue
            yield ObjectVersion(obj.object_name, obj.version_id, str(obj.is_latest).lower() == "true", obj.size or 0,
                                bool(obj.is_delete_marker))

    def info(self, bucket: str, key: str, version_id: str | None = None) -> ObjectInfo | None:
        """Metadata, retention and legal hold of one version; None when it does not exist."""
        try:
            stat = self.client.stat_object(bucket, key, version_id=version_id)
        except S3Error as exc:
            if exc.code in ("NoSuchKey", "NoSuchObject", "NoSuchVersion", "ResourceNotFound"):
                return None
            raise
        headers = {k.lower(): v for k, v in (stat.metadata or {}).items()}
        user = {k[len(_META_PREFIX):]: v for k, v in headers.items() if k.startswith(_META_PREFIX)}
        until = headers.get("x-amz-object-lock-retain-until-date")
        return ObjectInfo(
            key=key, version_id=stat.version_id or version_id, size=stat.size or 0, metadata=user,
            retain_until=datetime.fromisoformat(until.replace("Z", "+00:00")) if until else None,
            lock_mode=headers.get("x-amz-object-lock-mode"),
            legal_hold=headers.get("x-amz-object-lock-legal-hold", "OFF").upper() == "ON",
        )

    def set_legal_hold(self, bucket: str, key: str, version_id: str | None, on: bool) -> None:
        if on:
            self.client.enable_object_legal_hold(bucket, key, version_id=version_id)
        else:
            self.client.disable_object_legal_hold(bucket, key, version_id=version_id)

    def legal_hold_of(self, bucket: str, key: str, version_id: str | None = None) -> bool:
        return self.client.is_object_legal_hold_enabled(bucket, key, version_id=version_id)

    def set_retention(self, bucket: str, key: str, version_id: str | None, until: datetime, lock_mode: str) -> None:
        """Set a version's retain-until date; the server refuses shortening a COMPLIANCE lock."""
        mode = COMPLIANCE if lock_mode == "COMPLIANCE" else GOVERNANCE
        self.client.set_object_retention(bucket, key, S3Retention(mode, until), version_id=version_id)

    def retention_of(self, bucket: str, key: str, version_id: str | None = None) -> datetime | None:
        try:
            return self.client.get_object_retention(bucket, key, version_id=version_id).retain_until_date
        except S3Error as exc:
            if exc.code in ("NoSuchObjectLockConfiguration", "InvalidRequest", "NoSuchKey"):
                return None
            raise


def _retention(retain_until: datetime | None, lock_mode: str) -> S3Retention | None:
    """The object-lock retention of a put: none without a date or for a date already past."""
    if retain_until is None or retain_until <= datetime.now(timezone.utc):
        return None
    return S3Retention(COMPLIANCE if lock_mode == "COMPLIANCE" else GOVERNANCE, retain_until)
