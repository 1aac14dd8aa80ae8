"""A short backfill over past months: each month runs in order, the quarter at its end, and the trend
in the last month's management report shows the months before it."""
from __future__ import annotations

import io
import time

import pytest

from pipelines.cli_backfill import months_between, quarter_of


def test_months_and_quarter_ends() -> None:
    assert months_between("2025-11", "2026-02") == ["2025-11", "2025-12", "2026-01", "2026-02"]
    assert quarter_of("2026-09") == "2026-07-01" and quarter_of("2026-08") is None
    with pytest.raises(ValueError):
        months_between("2026-02", "2026-01")


@pytest.mark.slow
def test_a_three_month_backfill_publishes_each_month_and_the_trend_shows_them(s3_env) -> None:
    import pypdfium2

    from pipelines import cli
    from pipelines.cli_backfill import backfill

    lines: list[str] = []
    started = time.monotonic()
    report = backfill("2026-07", "2026-09", progress=lines.append)
    elapsed = time.monotonic() - started
    assert report.success, lines
    assert [(job, key) for job, key, *_ in report.runs] == [
        ("monthly_post_loan", "2026-07"), ("monthly_post_loan", "2026-08"), ("monthly_post_loan", "2026-09"),
        ("quarterly_regulatory", "2026-07-01")]
    assert lines[-1].startswith("[3/3] 2026-09 done")
    print(f"3-month backfill: {elapsed:.0f}s")

    archive = cli._archive()
    publications = archive.catalog.find_publications("management_report", "2026-09")
    manifest = archive.manifest(sorted({p.manifest_key for p in publications})[-1])
    assert [row["period"] for row in manifest["inputs"]["trend"]] == ["2026-07", "2026-08", "2026-09"]
    pdf = next(archive.store.get(archive.bucket, p.object_key) for p in publications if p.file_name.endswith(".pdf"))
    document = pypdfium2.PdfDocument(io.BytesIO(pdf))
    text = "".join(document[i].get_textpage().get_text_range() for i in range(len(document)))
    assert "不良率与拨备覆盖趋势" in text and "2026-07" in text
