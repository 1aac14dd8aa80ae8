"""Run the config/validation.yaml suites over one month's extract with Great Expectations (GX Core 1.x).

Extracts arrive all-string (read with dtype=str, keep_default_na=False), so each frame is
validated as a *typed copy* (`typed_copy`):
  * every empty string becomes missing (None/NaN/NaT), so not-null checks mean "delivered";
  * columns declared under `types` are converted: number/integer -> float64, date -> datetime64
    (ISO %Y-%m-%d); a non-empty value that fails conversion becomes missing in the typed column;
  * the raw non-empty text of each typed column is kept in `<column>__raw`, and an automatic
    parse expectation (regex for numbers, strftime for dates) runs on it, so a value that fails
    conversion is reported as a failure of *that row* instead of crashing or vanishing;
  * `_row` (1-based data row of the delivered file) is added to locate rows whose id is empty.
Failing rows are named through GX's `unexpected_index_column_names` (the frame's id columns + `_row`).
"""
from __future__ import annotations

import re
import threading
import time
import uuid
from collections.abc import Iterable
from datetime import date, datetime
from typing import Any

import pandas as pd

from plugins.validation.config import ExpectationSpec, FrameSuite, ValidationConfig, build_expectation
from plugins.validation.outcome import FileProblem, RowFailure, ValidationOutcome

ROW = "_row"
RAW_SUFFIX = "__raw"
DATE_FORMAT = "%Y-%m-%d"
NUMBER_PATTERN = {"number": r"^[+-]?(?:\d+(?:\.\d*)?|\.\d+)$", "integer": r"^[+-]?\d+$"}
SAMPLE_SIZE = 5
_META_KEY = "postloan"

# One GX context per process: each ephemeral context registers itself as GX's current project
# and makes a temporary docs folder, so per-call contexts would leak folders. Each run gets its
# own pandas datasource instead (deleted afterwards): GX caches an execution engine with batch
# data and computed metrics per datasource, keyed by a batch id that does not change between
# months, so a fresh one rules out stale metrics and frees the data. GX does not promise thread
# safety, hence the lock around every run.
_LOCK = threading.Lock()
_CONTEXT: Any = None


def validate_extract(frames: dict[str, pd.DataFrame], config: ValidationConfig, month_end: date | None = None,
                     file_problems: Iterable[FileProblem] = ()) -> ValidationOutcome:
    """Validate every configured frame; success is False when any blocking expectation fails, or any blocking
    file problem is found or given.

    `file_problems`: what reading the delivered files found (plugins.ingest.read_delivered_tables); a table
    refused there is absent from `frames` and not validated. A declared, non-optional table that is neither in
    `frames` nor refused is a not_delivered problem; a table lacking columns its expect_table_columns_to_match_set
    names is a missing_columns problem (the expectations still run, and say what they could not check).
    `month_end`: the value of max_value_from: month_end expectations; without it they are left out."""
    problems = list(file_problems)
    refused = {p.file for p in problems if p.severity == "blocking"}
    for name, suite in config.frames.items():
        if name not in frames and not suite.optional and f"{name}.csv" not in refused:
            problems.append(FileProblem(f"{name}.csv", "not_delivered", f"{name}.csv: not delivered (declared in "
                                        f"config/validation.yaml frames.{name})"))
        elif name in frames:
            problems.extend(_missing_columns(name, frames[name], suite))
    config = config.model_copy(update={"frames": {n: s for n, s in config.frames.items() if n in frames}})
    started = time.perf_counter()
    with _LOCK:
        context = _context()
        datasource = context.data_sources.add_pandas(f"postloan_extract_{uuid.uuid4().hex}")
        try:
            results = {name: _run_suite(datasource, name, frames[name], suite_config, frames, month_end)
                       for name, suite_config in config.frames.items()}
        finally:
            context.data_sources.delete(datasource.name)
    failures = [f for name, result in results.items() for f in _failures(name, result, frames[name], config.frames[name])]
    blocking = [f for f in failures if f.severity == "blocking"]
    problems.sort(key=lambda p: (p.severity != "blocking", p.file, p.problem))
    return ValidationOutcome(
        success=not blocking and not any(p.severity == "blocking" for p in problems), blocking_failures=blocking,
        warnings=[f for f in failures if f.severity != "blocking"],
        evaluated=sum(int(r.statistics["evaluated_expectations"]) for r in results.values()),
        rows={name: len(frames[name]) for name in results},
        statistics={name: dict(r.statistics) for name, r in results.items()},
        gx_results={name: r.to_json_dict() for name, r in results.items()},
        seconds=round(time.perf_counter() - started, 3),
        file_problems=problems,
    )


def _missing_columns(name: str, frame: pd.DataFrame, suite: FrameSuite) -> list[FileProblem]:
    required = [c for spec in suite.expectations if spec.type == "expect_table_columns_to_match_set"
                for c in spec.kwargs.get("column_set", [])]
    missing = [c for c in dict.fromkeys(required) if c not in frame.columns]
    if not missing:
        return []
    return [FileProblem(f"{name}.csv", "missing_columns", f"{name}.csv: lacks the column(s) {', '.join(missing)} "
                        f"(config/validation.yaml frames.{name}); the checks on them cannot run", tuple(missing))]


# --- typed copy -----------------------------------------------------------------------------------

def typed_copy(raw: pd.DataFrame, types: dict[str, str]) -> pd.DataFrame:
    """The frame GX sees: empties missing, declared columns typed, raw text kept for parse checks."""
    frame = raw.replace("", None).reset_index(drop=True)
    for column, kind in types.items():
        if column not in frame.columns:
            continue  # the table-columns expectation reports it; nothing to convert
        text = frame[column].astype("object")
        frame[column + RAW_SUFFIX] = text
        frame[column] = _to_datetime(text) if kind == "date" else _to_number(text, NUMBER_PATTERN[kind])
    frame[ROW] = range(1, len(frame) + 1)
    return frame


def _to_number(text: pd.Series, pattern: str) -> pd.Series:
    # Gate on the same regex the parse expectation uses, so conversion and report agree.
    ok = text.astype("string").str.fullmatch(pattern).fillna(False).astype(bool)
    return pd.to_numeric(text.where(ok), errors="coerce").astype("float64")


def _to_datetime(text: pd.Series) -> pd.Series:
    return pd.to_datetime(text, format=DATE_FORMAT, errors="coerce")


def _parse_specs(suite: FrameSuite, columns: pd.Index) -> list[ExpectationSpec]:
    """One automatic parse expectation per typed column present in the frame."""
    specs = []
    for column, kind in suite.types.items():
        if column not in columns:
            continue
        if kind == "date":
            spec = dict(type="expect_column_values_to_match_strftime_format",
                        kwargs={"column": column + RAW_SUFFIX, "strftime_format": DATE_FORMAT},
                        description=f"{column} is an ISO date (YYYY-MM-DD)")
        else:
            spec = dict(type="expect_column_values_to_match_regex",
                        kwargs={"column": column + RAW_SUFFIX, "regex": NUMBER_PATTERN[kind]},
                        description=f"{column} is {'an integer' if kind == 'integer' else 'a number'}")
        specs.append(ExpectationSpec(severity=suite.parse_severity, **spec))
    return specs


# --- GX -------------------------------------------------------------------------------------------

def _context() -> Any:
    global _CONTEXT
    if _CONTEXT is None:
        import great_expectations as gx
        from great_expectations.data_context.types.base import ProgressBarsConfig

        context = gx.get_context(mode="ephemeral")
        context.variables.progress_bars = ProgressBarsConfig(globally=False)  # no tqdm in pipeline logs
        _CONTEXT = context
    return _CONTEXT


def _run_suite(datasource: Any, name: str, raw: pd.DataFrame, suite_config: FrameSuite,
               frames: dict[str, pd.DataFrame], month_end: date | None = None) -> Any:
    import great_expectations as gx

    typed = typed_copy(raw, suite_config.types)
    specs = _parse_specs(suite_config, typed.columns) + [
        _on_delivered_text(spec, suite_config, typed.columns) for spec in suite_config.expectations
        # an expectation on another table that could not be read, or on the month end when none is given, is left out
        if (not spec.value_set_from or spec.value_set_from.split(".")[0] in frames)
        and (not spec.max_value_from or month_end is not None)]
    suite = gx.ExpectationSuite(name=f"postloan_{name}")
    bound = datetime.combine(month_end, datetime.min.time()) if month_end is not None else None
    for index, spec in enumerate(specs):
        value_set = _value_set(spec.value_set_from, frames) if spec.value_set_from else None
        meta = {_META_KEY: {"index": index, "severity": spec.severity, "description": spec.description,
                            "column": _display_column(spec)}}
        suite.add_expectation(build_expectation(spec, value_set=value_set, meta=meta,
                                                max_value=bound if spec.max_value_from else None))
    index_columns = [c for c in suite_config.id_columns if c in typed.columns] + [ROW]
    batch_definition = datasource.add_dataframe_asset(name).add_batch_definition_whole_dataframe("whole")
    batch = batch_definition.get_batch(batch_parameters={"dataframe": typed})
    return batch.validate(suite, result_format={"result_format": "COMPLETE",
                                                "unexpected_index_column_names": index_columns,
                                                "return_unexpected_index_query": True})


def _on_delivered_text(spec: ExpectationSpec, suite: FrameSuite, columns: pd.Index) -> ExpectationSpec:
    """Judge presence of a typed column on its raw text, so an unparseable value is one failure, not two."""
    column = spec.kwargs.get("column")
    if spec.type != "expect_column_values_to_not_be_null" or column not in suite.types \
            or column + RAW_SUFFIX not in columns:
        return spec
    return spec.model_copy(update={"kwargs": {**spec.kwargs, "column": column + RAW_SUFFIX}})


def _value_set(source: str, frames: dict[str, pd.DataFrame]) -> list[str]:
    frame_name, column = source.split(".")
    values = frames[frame_name].get(column)
    if values is None:
        raise ValueError(f"value_set_from {source}: frame '{frame_name}' has no column '{column}'")
    return sorted({v for v in values.tolist() if isinstance(v, str) and v != ""})


def _display_column(spec: ExpectationSpec) -> str | None:
    column = spec.column
    return column.replace(RAW_SUFFIX, "") if column else None


# --- GX results -> RowFailure ---------------------------------------------------------------------

def _failures(frame: str, suite_result: Any, raw: pd.DataFrame, suite: FrameSuite) -> list[RowFailure]:
    """Failures in config order (GX returns results in its own order)."""
    ordered = sorted(suite_result.results, key=lambda r: r.expectation_config.meta[_META_KEY]["index"])
    return [f for r in ordered if (f := _failure(frame, r, raw, suite)) is not None]


def _failure(frame: str, result: Any, raw: pd.DataFrame, suite: FrameSuite) -> RowFailure | None:
    if result.success:
        return None
    meta = result.expectation_config.meta[_META_KEY]
    common = dict(frame=frame, expectation=result.expectation_config.type, description=meta["description"],
                  column=meta["column"], severity=meta["severity"])
    error = _exception_message(result.exception_info or {})
    if error:
        return RowFailure(**common, row_ids=[], unexpected_count=0, sample_values=[error], error=error)
    detail = result.result or {}
    index_list = detail.get("unexpected_index_list") or []
    row_numbers = [int(item[ROW]) for item in index_list if isinstance(item, dict) and ROW in item]
    if not row_numbers:  # table-level expectation: no rows to name, show what GX observed
        return RowFailure(**common, row_ids=[], unexpected_count=int(detail.get("unexpected_count") or 0),
                          sample_values=_observed(detail))
    return RowFailure(**common, row_ids=_row_ids(raw, suite.id_columns, row_numbers),
                      unexpected_count=len(row_numbers),
                      sample_values=_samples(raw, result.expectation_config.kwargs, row_numbers))


def _exception_message(info: dict) -> str | None:
    """GX reports errors either flat or keyed by the metric that failed (e.g. a missing column)."""
    entries = [info] + [v for v in info.values() if isinstance(v, dict)]
    for entry in entries:
        if entry.get("raised_exception"):
            return _first_line(entry.get("exception_message") or "GX could not evaluate this expectation")
    return None


def _row_ids(raw: pd.DataFrame, id_columns: list[str], row_numbers: list[int]) -> list[str]:
    """Ids from the delivered text ("a/b" for compound ids); 'row N' where the id is empty."""
    present = [c for c in id_columns if c in raw.columns]
    ids = set()
    for number in row_numbers:
        parts = [str(raw[c].iat[number - 1]) for c in present]
        ids.add("/".join(parts) if parts and all(parts) else f"row {number}")
    return sorted(ids, key=_natural_key)


def _natural_key(text: str) -> list:
    # HT2024-0001/1/2 before HT2024-0001/1/10
    return [(0, int(part), "") if part.isdigit() else (1, 0, part) for part in re.split(r"(\d+)", text)]


def _samples(raw: pd.DataFrame, kwargs: dict, row_numbers: list[int]) -> list[str]:
    columns = [kwargs[k] for k in ("column", "column_A", "column_B") if k in kwargs] + list(kwargs.get("column_list", []))
    columns = [c.replace(RAW_SUFFIX, "") for c in columns if c.replace(RAW_SUFFIX, "") in raw.columns]
    samples: list[str] = []
    for number in row_numbers:
        values = [(c, str(raw[c].iat[number - 1])) for c in columns]
        text = values[0][1] if len(values) == 1 else ", ".join(f"{c}={v}" for c, v in values)
        if text not in samples:
            samples.append(text)
        if len(samples) == SAMPLE_SIZE:
            break
    return samples


def _observed(detail: dict) -> list[str]:
    mismatched = (detail.get("details") or {}).get("mismatched") or {}
    if mismatched.get("missing"):  # our helper columns (_row, *__raw) are extra by design: only name the missing
        return ["missing columns: " + ", ".join(sorted(mismatched["missing"]))]
    observed = detail.get("observed_value")
    return [_first_line(str(observed))] if observed is not None else []


def _first_line(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()[:300]
