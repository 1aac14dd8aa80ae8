"""The core system's tables typed once, by their declared schema (config/schema.yaml).

The extract arrives as text (`loanbook.read_csv_bytes`). `type_tables` turns every declared column into
its type in one vectorized pass per column (pyarrow compute kernels, no Python per cell), so the loan
book can be computed over typed columns by DuckDB:

    text     str, as delivered            date     date32[pyarrow] (NA when empty)
    cents    int64 (Int64 when nullable)  int      int64 (Int64 when nullable)
    decimal  float64 (NaN when empty)     bool     boolean

Frames typed elsewhere pass as they are when a column already has its kind; besides the forms above, a
text column may be a pandas categorical of strings and an int column any integer dtype (int32, Int32 …):
the lean form of the big instalment tables (schedules and payments: the contract id repeated on every
instalment, small version and instalment numbers), which the loan book and the ECL read by category.

Cents are parsed exactly from the decimal text and rounded once, half up (away from zero) at the cent,
as `plugins.money.to_cents` does: '100.005' → 10001, '-0.005' → -1. A value that cannot be typed raises
`TypingError` naming the table's file, the column, the first row numbers (1-based data rows, as a
spreadsheet shows them after the header) and their values. A column already of its type is passed
through untouched, so typing is idempotent and callers may type defensively.
"""
from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from plugins.config import ColumnSchema, ExtractSchema, TableSchema

SHOWN_ROWS = 5  # bad rows named in an error message; the count says how many more
# The validation gate's number pattern (plugins/validation/gx_suites.py), with the parts captured.
_NUMBER = r"^(?P<sign>[+-]?)(?P<whole>\d*)(?:\.(?P<frac>\d*))?$"
_INTEGER = r"^[+-]?\d{1,18}$"  # 18 digits always fit int64
_DATE = r"^\d{4}-\d{2}-\d{2}$"
_MAX_YUAN_DIGITS = 16  # 10**16 yuan = 10**18 cents, inside int64
DATE_DTYPE = pd.ArrowDtype(pa.date32())

_EXPECTED = {"date": "an ISO date (YYYY-MM-DD)", "cents": "an amount in yuan (e.g. 1234.56)",
             "int": "a whole number", "decimal": "a decimal number (e.g. 0.0435)", "bool": "true or false",
             "text": "text"}


class TypingError(ValueError):
    """A core-table value does not have its declared type (config/schema.yaml); names file and column."""

    def __init__(self, message: str, file: str = "", column: str = "", rows: tuple[int, ...] = ()) -> None:
        super().__init__(message)
        self.file, self.column, self.rows = file, column, rows  # rows: 1-based data rows


def type_tables(frames: Mapping[str, pd.DataFrame], schema: ExtractSchema) -> dict[str, pd.DataFrame]:
    """Every frame typed by its table's schema; tables the schema does not declare are passed through."""
    return {name: type_table(name, frame, schema.tables[name]) if name in schema.tables else frame
            for name, frame in frames.items()}


def typing_errors(frames: Mapping[str, pd.DataFrame], schema: ExtractSchema) -> list[TypingError]:
    """The first typing error of each declared table (none when every table types): the gate's check."""
    errors = []
    for name, frame in sorted(frames.items()):
        if name in schema.tables:
            try:
                type_table(name, frame, schema.tables[name])
            except TypingError as exc:
                errors.append(exc)
    return errors


def type_table(name: str, frame: pd.DataFrame, table: TableSchema) -> pd.DataFrame:
    """One table typed; the same frame object when every column already has its type."""
    typed = {column: _type_column(f"{name}.csv", column, frame[column], spec)
             for column, spec in table.columns.items() if column in frame.columns}
    changed = {column: values for column, values in typed.items() if values is not None}
    return frame.assign(**changed) if changed else frame


def _type_column(file: str, column: str, values: pd.Series, spec: ColumnSchema) -> pd.Series | None:
    """The typed column, or None when it already has its type (it is then only checked for empty cells)."""
    if _already_typed(values, spec.type):
        if not spec.nullable:
            missing = values.isna() | (values == "") if spec.type == "text" else values.isna()
            _refuse_missing(file, column, values, missing.to_numpy(dtype=bool))
        return None
    if spec.type == "text":
        raise TypingError(f"{file}: column '{column}' should be text, got {values.dtype}", file, column)
    text = _as_text(file, column, values, spec)
    empty = np.asarray(pc.fill_null(pc.equal(text, ""), True))  # a missing cell counts as empty
    if not spec.nullable:
        _refuse_missing(file, column, values, empty)
    parsed, bad = _PARSERS[spec.type](text)
    _refuse_bad(file, column, values, np.asarray(pc.fill_null(bad, True)) & ~empty, spec)
    return _to_pandas(parsed, spec, values.index)


def _already_typed(values: pd.Series, kind: str) -> bool:
    dtype = values.dtype
    if kind == "text":
        if isinstance(dtype, pd.CategoricalDtype):  # a key repeated on many rows, kept lean (see the module doc)
            return dtype.categories.dtype == object or pd.api.types.is_string_dtype(dtype.categories.dtype)
        return dtype == object or pd.api.types.is_string_dtype(dtype)
    if kind in ("cents", "int"):
        return pd.api.types.is_integer_dtype(dtype)
    if kind == "decimal":
        return pd.api.types.is_float_dtype(dtype)
    if kind == "bool":
        return pd.api.types.is_bool_dtype(dtype)
    # date: datetime64 or an Arrow date/timestamp
    if isinstance(dtype, pd.ArrowDtype):
        return pa.types.is_date(dtype.pyarrow_dtype) or pa.types.is_timestamp(dtype.pyarrow_dtype)
    return pd.api.types.is_datetime64_any_dtype(dtype)


def _as_text(file: str, column: str, values: pd.Series, spec: ColumnSchema) -> pa.Array:
    """The column as an Arrow string array (missing cells null); values of the wrong kind are refused."""
    if values.dtype == object and pd.api.types.infer_dtype(values, skipna=True) not in ("string", "empty"):
        if spec.type == "date" and pd.api.types.infer_dtype(values, skipna=True) == "date":
            # datetime.date objects (the sample generator's own frames): the ISO text, then parsed like CSV
            return pc.cast(pa.array(values, type=pa.date32(), from_pandas=True), pa.large_string())
        raise TypingError(f"{file}: column '{column}' should be {_EXPECTED[spec.type]} as text, "
                          f"got {pd.api.types.infer_dtype(values, skipna=True)} values", file, column)
    if pd.api.types.is_float_dtype(values.dtype) and spec.type in ("cents", "int"):
        # money and counts never pass through a float: 0.1 + 0.2 is not 0.3
        raise TypingError(f"{file}: column '{column}' should be {_EXPECTED[spec.type]} as text, got {values.dtype}",
                          file, column)
    if not (values.dtype == object or pd.api.types.is_string_dtype(values.dtype)):
        return pc.cast(pa.array(values, from_pandas=True), pa.large_string())
    return pa.array(values, type=pa.large_string(), from_pandas=True)


def _parse_cents(text: pa.Array) -> tuple[pa.Array, pa.Array]:
    """Exact decimal text → int64 cents, half up (away from zero) on the third decimal; (cents, bad)."""
    parts = pc.extract_regex(text, _NUMBER)
    whole, frac = pc.struct_field(parts, "whole"), pc.struct_field(parts, "frac")
    frac = pc.if_else(pc.is_null(frac), "", frac)
    has_digits = pc.greater(pc.add(pc.utf8_length(whole), pc.utf8_length(frac)), 0)
    bad = pc.invert(pc.fill_null(pc.and_(has_digits, pc.less_equal(pc.utf8_length(whole), _MAX_YUAN_DIGITS)),
                                 False))
    whole = pc.if_else(pc.fill_null(pc.and_(pc.invert(bad), pc.greater(pc.utf8_length(whole), 0)), False),
                       whole, "0")
    padded = pc.utf8_rpad(frac, width=3, padding="0")
    two = pc.cast(pc.utf8_slice_codeunits(padded, 0, 2), pa.int64())
    third = pc.cast(pc.utf8_slice_codeunits(padded, 2, 3), pa.int64())
    # Only the third decimal decides: what is discarded is at least half a cent exactly when it is ≥ 5.
    magnitude = pc.add(pc.add(pc.multiply(pc.cast(whole, pa.int64()), 100), two),
                       pc.cast(pc.greater_equal(third, 5), pa.int64()))
    negative = pc.fill_null(pc.equal(pc.struct_field(parts, "sign"), "-"), False)
    cents = pc.if_else(negative, pc.negate(magnitude), magnitude)
    return pc.if_else(bad, pa.scalar(None, pa.int64()), cents), bad


def _parse_int(text: pa.Array) -> tuple[pa.Array, pa.Array]:
    bad = pc.invert(pc.fill_null(pc.match_substring_regex(text, _INTEGER), False))
    digits = pc.if_else(bad, "0", pc.replace_substring_regex(text, r"^\+", ""))
    return pc.if_else(bad, pa.scalar(None, pa.int64()), pc.cast(digits, pa.int64())), bad


def _parse_decimal(text: pa.Array) -> tuple[pa.Array, pa.Array]:
    parts = pc.extract_regex(text, _NUMBER)
    frac = pc.struct_field(parts, "frac")
    digits = pc.add(pc.utf8_length(pc.struct_field(parts, "whole")),
                    pc.utf8_length(pc.if_else(pc.is_null(frac), "", frac)))
    bad = pc.invert(pc.fill_null(pc.greater(digits, 0), False))
    return pc.if_else(bad, pa.scalar(None, pa.float64()), pc.cast(pc.if_else(bad, "0", text), pa.float64())), bad


def _parse_date(text: pa.Array) -> tuple[pa.Array, pa.Array]:
    shaped = pc.fill_null(pc.match_substring_regex(text, _DATE), False)
    days = pc.cast(pc.strptime(pc.if_else(shaped, text, None), format="%Y-%m-%d", unit="s", error_is_null=True),
                   pa.date32())
    # strptime rolls 2026-02-30 over to 2026-03-02: a real date prints back as its own text.
    same = pc.equal(pc.strftime(days, format="%Y-%m-%d"), text)
    bad = pc.invert(pc.fill_null(pc.and_(shaped, same), False))
    return pc.if_else(bad, pa.scalar(None, pa.date32()), days), bad


def _parse_bool(text: pa.Array) -> tuple[pa.Array, pa.Array]:
    bad = pc.invert(pc.fill_null(pc.is_in(text, pa.array(["true", "false"])), False))
    return pc.if_else(bad, pa.scalar(None, pa.bool_()), pc.equal(text, "true")), bad


_PARSERS = {"cents": _parse_cents, "int": _parse_int, "decimal": _parse_decimal, "date": _parse_date,
            "bool": _parse_bool}


def _to_pandas(parsed: pa.Array, spec: ColumnSchema, index: pd.Index) -> pd.Series:
    nullable_int = {pa.int64(): pd.Int64Dtype()} if spec.nullable else {}
    # A non-nullable int column without nulls comes out numpy int64; missing decimals come out NaN.
    mapper = {**nullable_int, pa.date32(): DATE_DTYPE, pa.bool_(): pd.BooleanDtype()}
    series = parsed.to_pandas(types_mapper=mapper.get)
    series.index = index
    return series


def _refuse_missing(file: str, column: str, values: pd.Series, missing: np.ndarray) -> None:
    rows = np.flatnonzero(missing)
    if len(rows):
        raise TypingError(f"{file}: column '{column}' may not be empty (config/schema.yaml), "
                          f"but is at {_rows(values, rows)}", file, column, tuple(int(r) + 1 for r in rows))


def _refuse_bad(file: str, column: str, values: pd.Series, bad: np.ndarray, spec: ColumnSchema) -> None:
    rows = np.flatnonzero(bad)
    if len(rows):
        raise TypingError(f"{file}: column '{column}' should be {_EXPECTED[spec.type]}, "
                          f"but is not at {_rows(values, rows)}", file, column, tuple(int(r) + 1 for r in rows))


def _rows(values: pd.Series, rows: np.ndarray) -> str:
    """'rows 3 ('12,5'), 7 ('abc') and 4 more' — 1-based data rows with their values."""
    shown = ", ".join(f"{int(r) + 1} ({values.iat[int(r)]!r})" for r in rows[:SHOWN_ROWS])
    more = f" and {len(rows) - SHOWN_ROWS} more" if len(rows) > SHOWN_ROWS else ""
    return f"row{'s' if len(rows) > 1 else ''} {shown}{more}"
