"""Archive backend: object store (minio SDK), catalog, retention, local S3 server."""
from plugins.archive.archive import Archive, DocumentMeta, retain_until, sha256_hex
from plugins.archive.catalog import Catalog, DocumentRecord, PublicationRecord
from plugins.archive.store import ObjectStore, S3Settings, s3_settings

__all__ = ["Archive", "Catalog", "DocumentMeta", "DocumentRecord", "ObjectStore", "PublicationRecord",
           "S3Settings", "retain_until", "s3_settings", "sha256_hex"]
