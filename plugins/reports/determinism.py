"""Helpers that make rendered files byte-identical for identical inputs.

Office files are zip archives whose entries carry timestamps, host-OS and
permission fields; PDFs carry creation dates and IDs. Everything here pins
those to values derived from the inputs (the report date), never the clock.
"""

from __future__ import annotations

import io
import zipfile
from datetime import date, datetime, time

# DOS timestamps cannot predate 1980; Excel itself uses this value.
ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)


def report_datetime(report_date: date) -> datetime:
    """Fixed 'created' stamp for a report: midnight of the report date (naive, no tz)."""
    if isinstance(report_date, datetime):
        report_date = report_date.date()
    return datetime.combine(report_date, time(0, 0))


def pdf_date_string(report_date: date) -> str:
    """PDF date string (D:YYYYMMDDHHmmSS+00'00') for the report date at midnight UTC."""
    return report_datetime(report_date).strftime("D:%Y%m%d%H%M%S+00'00'")


def normalise_zip(data: bytes, date_time: tuple[int, int, int, int, int, int] = ZIP_EPOCH) -> bytes:
    """Rewrite a zip with fixed timestamps, attributes and host OS, keeping entry order.

    Entry order is kept because OOXML readers expect [Content_Types].xml first.
    """
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for entry in src.infolist():
            info = zipfile.ZipInfo(entry.filename, date_time=date_time)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.create_system = 0  # MS-DOS: otherwise the building OS leaks into the file
            info.external_attr = 0
            dst.writestr(info, src.read(entry.filename))
    return out.getvalue()


def zip_timestamps(data: bytes) -> set[tuple[int, ...]]:
    """Distinct entry timestamps of a zip (for tests and sanity checks)."""
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return {entry.date_time for entry in archive.infolist()}
