"""Dagster resources: configuration, the archive, and the IO manager for intermediate tables.

Endpoints and credentials are read from config/storage.yaml and the environment
variables it names (POSTLOAN_S3_ENDPOINT, POSTLOAN_S3_ACCESS_KEY, ...), so the same
definitions run against the local SeaweedFS, MinIO or S3. Runs act as the identity of
those credentials; without them, against the local server, as the pipeline's own identity
(generated into the state folder at the server's first start; SECURITY.md).
"""
from __future__ import annotations

import io
import json
from typing import Any

import pandas as pd
from dagster import ConfigurableIOManager, ConfigurableResource, InputContext, OutputContext
from pydantic import PrivateAttr

from pipelines import settings
from plugins.archive import Archive, Catalog, ObjectStore, s3_settings
from plugins.config import PostloanConfig, load_config
from plugins.portfolio.arrow_memory import keep_freed_memory


class PostloanConfigResource(ConfigurableResource):
    """The validated YAML configuration (config/ unless config_dir or POSTLOAN_CONFIG_DIR says otherwise)."""

    config_dir: str = ""
    _config: PostloanConfig | None = PrivateAttr(default=None)

    def get(self) -> PostloanConfig:
        if self._config is None:
            self._config = load_config(self.config_dir or settings.config_dir())
        return self._config


class ArchiveResource(ConfigurableResource):
    """The locked archive bucket and its catalog."""

    config_dir: str = ""
    _archive: Archive | None = PrivateAttr(default=None)

    def get(self) -> Archive:
        if self._archive is None:
            config = load_config(self.config_dir or settings.config_dir())
            store = ObjectStore(s3_settings(config.storage))
            store.ensure_buckets()
            catalog = Catalog(settings.catalog_url(config.storage.catalog_url))
            self._archive = Archive(store, catalog, config.retention)
        return self._archive


class WorkStoreIOManager(ConfigurableIOManager):
    """Intermediate asset values in the work bucket, one object per asset partition.

    DataFrames are stored as Parquet, bytes as they are, anything else as JSON.
    An input declared with metadata {"period_end_only": True} that spans several
    partitions (a quarterly report reading monthly stocks) loads only the last one; one declared with
    {"materialized_only": True} loads {partition: value} for the partitions that were materialized.
    """

    config_dir: str = ""
    _store: ObjectStore | None = PrivateAttr(default=None)

    def _objects(self) -> ObjectStore:
        if self._store is None:
            config = load_config(self.config_dir or settings.config_dir())
            self._store = ObjectStore(s3_settings(config.storage))
            self._store.ensure_buckets()
        return self._store

    def _key(self, asset_path: list[str], partition: str | None) -> str:
        return "/".join(asset_path) + f"/{partition or '__all__'}"

    def handle_output(self, context: OutputContext, obj: Any) -> None:
        store = self._objects()
        partition = context.asset_partition_key if context.has_asset_partitions else None
        key = self._key(list(context.asset_key.path), partition)
        if isinstance(obj, pd.DataFrame):
            data, kind = _parquet(obj), "parquet"
        elif isinstance(obj, dict) and obj and all(isinstance(v, pd.DataFrame) for v in obj.values()):
            for name, frame in obj.items():
                store.put(store.settings.work_bucket, f"{key}.tables/{name}", _parquet(frame), metadata={"kind": "parquet"})
            data, kind = json.dumps(sorted(obj)).encode(), "tables"
        elif isinstance(obj, (bytes, bytearray)):
            data, kind = bytes(obj), "bytes"
        else:
            data, kind = json.dumps(obj, ensure_ascii=False, sort_keys=True, default=str).encode(), "json"
        store.put(store.settings.work_bucket, key, data, metadata={"kind": kind})

    def load_input(self, context: InputContext) -> Any:
        store = self._objects()
        path = list(context.asset_key.path)
        if not context.has_asset_partitions:
            return self._read(store, self._key(path, None))
        keys = sorted(context.asset_partition_keys)
        if (context.definition_metadata or {}).get("period_end_only"):
            keys = keys[-1:]
        if (context.definition_metadata or {}).get("materialized_only"):
            # earlier months read for comparison: those never run are left out; always {partition: value}
            return {k: self._read(store, self._key(path, k)) for k in keys
                    if store.exists(store.settings.work_bucket, self._key(path, k))}
        values = {k: self._read(store, self._key(path, k)) for k in keys}
        return values[keys[0]] if len(keys) == 1 else values

    @staticmethod
    def _read(store: ObjectStore, key: str) -> Any:
        bucket = store.settings.work_bucket
        if not store.exists(bucket, key):
            asset, _, partition = key.rpartition("/")
            raise FileNotFoundError(f"{asset} has not been materialized for {partition}: run that partition first "
                                    f"(no object {key} in bucket {bucket})")
        kind = store.client.stat_object(bucket, key).metadata.get("x-amz-meta-kind", "bytes")
        data = store.get(bucket, key)
        if kind == "parquet":
            keep_freed_memory()  # whole-book tables: see plugins/portfolio/arrow_memory.py
            return pd.read_parquet(io.BytesIO(data))
        if kind == "json":
            return json.loads(data)
        if kind == "tables":
            return {name: WorkStoreIOManager._read(store, f"{key}.tables/{name}") for name in json.loads(data)}
        return data


def _parquet(frame: pd.DataFrame) -> bytes:
    buffer = io.BytesIO()
    frame.to_parquet(buffer, index=False)
    return buffer.getvalue()
