"""The configuration a report was made with, as one archivable document.

A manifest's configuration hash proves which settings were used only while those
settings can still be found. The snapshot (every YAML file of config/, name → text)
is archived under its own SHA-256 beside the reports, so the folder can be restored
from the archive years later and re-run to the same bytes.
"""
from __future__ import annotations

import json
from pathlib import Path

from plugins.config import config_digest

SNAPSHOT_NAME = "config_snapshot.json"


def config_snapshot(config_dir: Path | str) -> bytes:
    """Every YAML file of the folder, byte for byte, with the folder's configuration hash."""
    folder = Path(config_dir)
    files = {path.name: path.read_bytes().decode("utf-8") for path in sorted(folder.glob("*.yaml"))}
    document = {"config_sha256": config_digest(folder), "files": files}
    return json.dumps(document, ensure_ascii=False, indent=1, sort_keys=True).encode("utf-8") + b"\n"


def restore_config_snapshot(snapshot: bytes, into: Path | str) -> str:
    """Write the snapshot's files into an empty folder; returns the configuration hash, checked."""
    document = json.loads(snapshot)
    folder = Path(into)
    folder.mkdir(parents=True, exist_ok=True)
    if any(folder.iterdir()):
        raise FileExistsError(f"{folder} is not empty; restore into a new folder")
    for name, text in sorted(document["files"].items()):
        if Path(name).name != name or not name.endswith(".yaml"):
            raise ValueError(f"snapshot names an unexpected file {name!r}")
        (folder / name).write_bytes(text.encode("utf-8"))
    digest = config_digest(folder)
    if digest != document["config_sha256"]:
        raise ValueError(f"restored files hash to {digest}, the snapshot says {document['config_sha256']}")
    return digest
