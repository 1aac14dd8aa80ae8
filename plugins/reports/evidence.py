"""Data-quality evidence for the archive: the Great Expectations results of a month, made reproducible.

GX stamps each run with a load time and a random datasource name; neither says
anything about the data, and both would make every re-run a new archive object.
They are replaced by fixed values; everything else (every expectation, its
kwargs, its result and statistics) is kept as GX produced it.
"""
from __future__ import annotations

import json
import re
from typing import Any

RANDOM_DATASOURCE = re.compile(r"(postloan_extract)_[0-9a-f]{32}")
VOLATILE_KEYS = {"ge_load_time"}


def _clean(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items() if k not in VOLATILE_KEYS}
    if isinstance(value, list):
        return [_clean(v) for v in value]
    if isinstance(value, str):
        return RANDOM_DATASOURCE.sub(r"\1", value)
    return value


def gx_evidence_json(gx_results: dict[str, dict], summary: dict[str, Any]) -> bytes:
    """Per-frame GX validation results plus a summary, as stable UTF-8 JSON bytes."""
    document = {"summary": summary, "great_expectations_results": _clean(gx_results)}
    return json.dumps(document, ensure_ascii=False, indent=1, sort_keys=True, default=str).encode("utf-8") + b"\n"
