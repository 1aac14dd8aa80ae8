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


UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
CACHE_BUSTER = re.compile(r"\?d=\d{8}T\d{6}(?:\.\d+)?Z")


def _stable_ids(html: str) -> str:
    # The renderer gives collapsible blocks uuid4 ids; numbering them in page order keeps links working.
    numbers: dict[str, str] = {}
    return UUID.sub(lambda m: numbers.setdefault(m.group(0), f"block-{len(numbers) + 1}"), html)


def gx_data_docs_html(gx_results: dict[str, dict]) -> dict[str, bytes]:
    """Great Expectations' own data-docs page for each frame's validation result, as stable HTML bytes.

    Rendered by GX's ValidationResultsPageRenderer from the same cleaned results as the JSON evidence,
    so the page and the JSON never disagree. The page loads GX's stylesheets from the web when opened;
    offline it is unstyled but complete.
    """
    from great_expectations.core.expectation_validation_result import expectationSuiteValidationResultSchema
    from great_expectations.render.renderer import ValidationResultsPageRenderer
    from great_expectations.render.view import DefaultJinjaPageView

    pages = {}
    for frame, result in sorted(gx_results.items()):
        loaded = expectationSuiteValidationResultSchema.load(_clean(result))
        html = DefaultJinjaPageView().render(ValidationResultsPageRenderer().render(loaded))
        pages[frame] = _stable_ids(CACHE_BUSTER.sub("", html)).encode("utf-8")
    return pages
