"""The default publishers: the object store's outbox (`outbox`) and a folder (`folder`)."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict

from plugins.publishers import NOTICE_KIND, PublisherError, not_mine
from plugins.registry import Publication


class OutboxSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    prefix: str = "outbox"
    kinds: list[str] = [NOTICE_KIND]


class ObjectStoreOutbox:
    """Puts each publication under `<prefix>/<kind>/<period>/<file name>` in the work bucket of the object store
    the run attaches (`attach(store)`: the pipeline's own store; the plugin reads no credentials)."""
    name = "outbox"
    settings_model = OutboxSettings

    def __init__(self, settings: OutboxSettings | None = None):
        self.settings = settings or OutboxSettings()
        self.store: Any = None

    def attach(self, store: Any) -> None:
        self.store = store

    def publish(self, publication: Publication) -> str:
        if (skipped := not_mine(self, publication)) is not None:
            return skipped
        if self.store is None:
            raise PublisherError("publisher outbox: no object store attached (the run attaches its own)")
        bucket = self.store.settings.work_bucket
        key = f"{self.settings.prefix.strip('/')}/{publication.kind}/{publication.period}/{publication.file_name}"
        self.store.put(bucket, key, publication.data, "application/pdf" if key.endswith(".pdf") else
                       "application/octet-stream", {"sha256": publication.sha256})
        return f"s3://{bucket}/{key}"


class FolderSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    folder: str = ""
    kinds: list[str] = [NOTICE_KIND]


class FolderPublisher:
    """Writes each publication to `<folder>/<kind>/<period>/<file name>`."""
    name = "folder"
    settings_model = FolderSettings

    def __init__(self, settings: FolderSettings | None = None):
        self.settings = settings or FolderSettings()

    def publish(self, publication: Publication) -> str:
        if (skipped := not_mine(self, publication)) is not None:
            return skipped
        if not self.settings.folder:
            raise PublisherError("config/plugins.yaml: key 'publishers.settings.folder.folder': empty; name the "
                                 "folder notices are written to")
        path = Path(self.settings.folder) / publication.kind / publication.period / publication.file_name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(publication.data)
        return str(path)
