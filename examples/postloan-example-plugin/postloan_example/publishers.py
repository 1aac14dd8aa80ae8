"""A publisher that copies each published report into a folder (say, a share the management reads)."""
from __future__ import annotations

import hashlib
from pathlib import Path

from pydantic import BaseModel, ConfigDict


class ReportFolderSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    directory: str


class ReportFolder:
    name = "report_folder"
    settings_model = ReportFolderSettings

    def __init__(self, settings: ReportFolderSettings) -> None:
        self.root = Path(settings.directory)

    def publish(self, publication) -> str:
        """Write <directory>/<kind>/<period>/<file>; the same bytes again leave the file as it is."""
        if hashlib.sha256(publication.data).hexdigest() != publication.sha256:
            raise ValueError(f"{publication.file_name}: bytes do not match their hash {publication.sha256}")
        target = self.root / publication.kind / publication.period / publication.file_name
        target.parent.mkdir(parents=True, exist_ok=True)
        if not target.exists() or target.read_bytes() != publication.data:
            target.write_bytes(publication.data)
        return str(target)
