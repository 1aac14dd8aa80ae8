"""Where postloan keeps local state, and how it finds its configuration.

POSTLOAN_STATE_DIR (default: .state/ in the repository) holds the local S3
server's data, the SQLite catalog and DAGSTER_HOME; POSTLOAN_CONFIG_DIR
(default: config/) the YAML configuration. The local server's secrets live in
<state>/s3/ (mode 0700): the roles' development credentials (credentials.json),
the JWT signing keys (security.toml) and the TLS certificate and key (tls/); none
is ever in the repository or config/. plugins/archive/store.py finds the pipeline's
credentials there through plugins/archive/identities.py default_state_dir, which reads
the same POSTLOAN_STATE_DIR with the same default.
"""
from __future__ import annotations

import os
import subprocess
from functools import lru_cache
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent


def state_dir() -> Path:
    return Path(os.environ.get("POSTLOAN_STATE_DIR", REPO_ROOT / ".state")).resolve()


def config_dir() -> Path:
    return Path(os.environ.get("POSTLOAN_CONFIG_DIR", REPO_ROOT / "config")).resolve()


def catalog_url(configured: str | None) -> str:
    """POSTLOAN_CATALOG_URL, else config/storage.yaml's catalog_url, else SQLite under the state folder."""
    url = os.environ.get("POSTLOAN_CATALOG_URL") or configured
    if url:
        return url
    state_dir().mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{state_dir() / 'catalog.sqlite'}"


def dagster_home() -> Path:
    """An absolute DAGSTER_HOME: $DAGSTER_HOME if set, else inside the state folder."""
    home = Path(os.environ.get("DAGSTER_HOME") or state_dir() / "dagster_home").resolve()
    home.mkdir(parents=True, exist_ok=True)
    config = home / "dagster.yaml"
    # The project's instance settings (one run per partition, run monitoring: config/dagster/dagster.yaml),
    # SQLite storage in this folder; also over the bare file earlier versions wrote. See README for PostgreSQL.
    if not config.exists() or config.read_text() == _EARLIER_DEFAULT_INSTANCE:
        config.write_text((REPO_ROOT / "config" / "dagster" / "dagster.yaml").read_text())
    return home


_EARLIER_DEFAULT_INSTANCE = "# Dagster instance: SQLite storage in this folder (the default).\ntelemetry:\n  enabled: false\n"


@lru_cache(maxsize=1)
def code_version() -> str:
    """The git commit of this checkout (with '+dirty' for local changes), else the package version."""
    try:
        sha = subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO_ROOT, capture_output=True, text=True,
                             check=True, timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=REPO_ROOT,
                               capture_output=True, text=True, timeout=10).stdout.strip()
        return sha + ("+dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        from importlib.metadata import version

        return f"postloan-{version('postloan')}"
