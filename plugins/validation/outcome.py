"""What a validation run found: failures named by row id, plus the raw GX results as evidence."""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

SUMMARY_MAX_IDS = 20  # summary lines stay readable; RowFailure.row_ids keeps every id


@dataclass(frozen=True)
class RowFailure:
    frame: str
    expectation: str            # GX expectation type
    description: str            # human description from config/validation.yaml
    column: str | None
    severity: str               # "blocking" | "warning"
    row_ids: list[str]          # id column values of failing rows ("a/b" for compound ids), sorted, unique
    unexpected_count: int       # failing rows (duplicates of one id count separately)
    sample_values: list[str]    # a few offending raw values, or the GX error if the check could not run
    error: str | None = None    # set when GX could not evaluate the expectation (e.g. missing column)

    def summary_line(self) -> str:
        where = f"{self.expectation} on {self.column}" if self.column else self.expectation
        if self.error:
            return f"{self.frame}: could not check '{self.description}' ({where}): {self.error}"
        noun = "row fails" if self.unexpected_count == 1 else "rows fail"
        ids = self.row_ids[:SUMMARY_MAX_IDS]
        more = len(self.row_ids) - len(ids)
        tail = ", ".join(ids) + (f" … and {more} more" if more else "")
        if not ids:
            tail = "; ".join(self.sample_values) or "failed"
            return f"{self.frame}: '{self.description}' fails ({where}): {tail}"
        return f"{self.frame}: {self.unexpected_count} {noun} '{self.description}' ({where}): {tail}"


@dataclass(frozen=True)
class FileProblem:
    """A delivered table file that cannot be validated as it is (blocking: unreadable, not delivered, columns
    missing), or that reads with a remark (warning: an extra column); named by its file, e.g. loans.csv."""
    file: str                    # e.g. loans.csv
    problem: str                 # empty, too_large, too_many_rows, undecodable, binary, no_header,
                                 # duplicate_columns, wrong_delimiter, malformed, short_rows, not_delivered,
                                 # missing_columns, extra_columns, unnamed_columns, unknown_table
    detail: str                  # the whole sentence, starting with the file
    items: tuple[str, ...] = ()  # what it names: lines, rows, columns
    severity: str = "blocking"   # blocking | warning

    def summary_line(self) -> str:
        return self.detail

    def __str__(self) -> str:
        return self.detail


@dataclass(frozen=True)
class ValidationOutcome:
    success: bool                       # no blocking failure
    blocking_failures: list[RowFailure]
    warnings: list[RowFailure]
    evaluated: int                      # expectations run, all frames
    rows: dict[str, int]                # rows per frame
    statistics: dict[str, dict[str, Any]] = field(default_factory=dict)   # GX statistics per frame
    gx_results: dict[str, dict[str, Any]] = field(default_factory=dict)   # GX to_json_dict() per frame
    seconds: float = 0.0
    file_problems: list[FileProblem] = field(default_factory=list)        # files, before any expectation

    def summary_lines(self) -> list[str]:
        """Blocking file problems and failures first, then warnings (prefixed)."""
        lines = [p.summary_line() for p in self.file_problems if p.severity == "blocking"]
        lines += [f.summary_line() for f in self.blocking_failures]
        lines += [f"warning: {p.summary_line()}" for p in self.file_problems if p.severity != "blocking"]
        return lines + [f"warning: {f.summary_line()}" for f in self.warnings]

    def gx_result_json(self, indent: int | None = 2) -> str:
        """The raw GX suite validation results per frame, for archiving as data-quality evidence."""
        return json.dumps(self.gx_results, ensure_ascii=False, indent=indent, sort_keys=True, default=str)
