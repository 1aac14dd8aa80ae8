"""The core tables typed once by config/schema.yaml: exact cents, one rounding rule, errors that name the cell."""
from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

import pandas as pd
import pytest

from plugins.config import DEFAULT_CONFIG_DIR, ConfigError, load_config, load_schema
from plugins.money import to_cents
from plugins.portfolio.typed import TypingError, type_tables

SCHEMA = load_schema()


def payments(*rows: tuple[str, str, str, str, str, str]) -> pd.DataFrame:
    """A payments table as the CSV reads it: every cell text."""
    columns = ["contract_id", "schedule_version", "instalment_no", "paid_date", "principal_paid", "interest_paid"]
    return pd.DataFrame(list(rows), columns=columns, dtype="str")


def paid_cents(amount: str) -> int:
    typed = type_tables({"payments": payments(("HT1", "1", "1", "2026-09-30", amount, "0.00"))}, SCHEMA)
    return int(typed["payments"]["principal_paid"].iat[0])


@pytest.mark.parametrize("amount, cents", [
    ("100.005", 10001),   # half a cent rounds up …
    ("100.004", 10000),
    ("-0.005", -1),       # … and away from zero when negative
    ("12", 1200),         # whole yuan
    ("1234.56", 123456),
    (".5", 50),
    ("0.0049999", 0),     # only the third decimal decides: less than half a cent is dropped
])
def test_cents_round_half_up_once_at_the_cent(amount, cents):
    assert paid_cents(amount) == cents == to_cents(amount)


def test_an_empty_amount_is_missing_not_zero():
    typed = type_tables({"payments": payments(("HT1", "1", "1", "2026-09-30", "", "0.00"))}, SCHEMA)
    assert pd.isna(typed["payments"]["principal_paid"].iat[0])


def test_columns_get_their_declared_types():
    typed = type_tables({"payments": payments(("HT1", "2", "7", "2026-09-30", "1.00", "0.50"))}, SCHEMA)["payments"]
    assert typed["schedule_version"].dtype == "int64" and typed["instalment_no"].iat[0] == 7
    assert typed["paid_date"].iat[0] == date(2026, 9, 30)
    assert typed["contract_id"].iat[0] == "HT1"


def test_a_bad_amount_names_the_file_column_row_and_value():
    frame = payments(("HT1", "1", "1", "2026-08-31", "100.00", "0.00"), ("HT1", "1", "2", "2026-09-30", "1,000.00", "0"))
    with pytest.raises(TypingError, match=r"payments\.csv: column 'principal_paid' .* row 2 \('1,000\.00'\)"):
        type_tables({"payments": frame}, SCHEMA)


def test_a_bad_date_names_the_file_column_row_and_value():
    frame = payments(("HT1", "1", "1", "2026-02-30", "100.00", "0.00"))  # no 30 February
    with pytest.raises(TypingError, match=r"payments\.csv: column 'paid_date' .* row 1 \('2026-02-30'\)"):
        type_tables({"payments": frame}, SCHEMA)


def test_an_empty_cell_where_the_schema_forbids_it_is_named():
    frame = payments(("HT1", "1", "1", "2026-09-30", "1.00", "0.00"), ("HT1", "1", "2", "", "1.00", "0.00"))
    with pytest.raises(TypingError, match=r"payments\.csv: column 'paid_date' may not be empty .* row 2"):
        type_tables({"payments": frame}, SCHEMA)


def test_many_bad_rows_name_the_first_ones_and_count_the_rest():
    frame = payments(*[("HT1", "1", str(n), "2026-09-30", "x", "0") for n in range(1, 9)])
    with pytest.raises(TypingError, match=r"rows 1 \('x'\), 2 .* 5 \('x'\) and 3 more"):
        type_tables({"payments": frame}, SCHEMA)


def test_typed_input_passes_through_unchanged():
    once = type_tables({"payments": payments(("HT1", "1", "1", "2026-09-30", "100.005", ""))}, SCHEMA)
    twice = type_tables(once, SCHEMA)
    assert twice["payments"] is once["payments"]


def test_tables_the_schema_does_not_declare_pass_through():
    log = pd.DataFrame({"contract_id": ["HT1"], "done_date": ["not a date"]})
    assert type_tables({"inspections": log}, SCHEMA)["inspections"] is log


def test_the_bundled_schema_is_valid_and_part_of_the_configuration():
    assert load_config().extract_schema == SCHEMA
    assert SCHEMA.tables["loans"].columns["outstanding_principal"].type == "cents"
    assert SCHEMA.tables["loans"].columns["restructured_on"].nullable


@pytest.fixture()
def config_copy(tmp_path: Path) -> Path:
    target = tmp_path / "config"
    shutil.copytree(DEFAULT_CONFIG_DIR, target)
    return target


def test_a_broken_schema_names_the_file_and_the_key(config_copy: Path):
    path = config_copy / "schema.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace("principal: {type: cents}", "principal: {type: money}"),
                    encoding="utf-8")
    with pytest.raises(ConfigError, match=r"schema\.yaml: key 'tables\.loans\.columns\.principal\.type'"):
        load_schema(config_copy)
    with pytest.raises(ConfigError, match=r"schema\.yaml"):
        load_config(config_copy)


def test_a_schema_without_an_extract_table_is_refused(config_copy: Path):
    path = config_copy / "schema.yaml"
    text = path.read_text(encoding="utf-8")
    path.write_text(text[:text.index("  guarantors:")], encoding="utf-8")
    with pytest.raises(ConfigError, match=r"schema\.yaml: key 'tables': .*guarantors"):
        load_schema(config_copy)


def test_lean_instalment_tables_pass_as_typed_and_give_the_same_book_and_terms():
    # The big tables' lean form: contract_id a categorical of strings, version and instalment numbers int32.
    from plugins.portfolio.loanbook import open_book, read_csv_bytes
    from plugins.provisioning.ecl import inputs_from_extract
    from plugins.sample import core_extract, csv_bytes
    from plugins.sample.portfolio import generate_portfolio

    portfolio = generate_portfolio()
    as_of = date(2026, 9, 30)
    typed = type_tables({name: read_csv_bytes(csv_bytes(frame)) for name, frame in core_extract(portfolio, as_of).items()},
                        SCHEMA)
    lean = dict(typed)
    for name in ("schedules", "payments"):
        frame = typed[name]
        lean[name] = frame.assign(contract_id=frame["contract_id"].astype("category"),
                                  schedule_version=frame["schedule_version"].astype("int32"),
                                  instalment_no=frame["instalment_no"].astype("int32"))
        assert type_tables({name: lean[name]}, SCHEMA)[name] is lean[name]
    pd.testing.assert_frame_equal(open_book(lean, as_of, (6, 6)), open_book(typed, as_of, (6, 6)))
    schedule = lambda extract: inputs_from_extract(extract, as_of).frames.schedule.sort_values(  # noqa: E731
        ["code", "month", "principal_cents"], ignore_index=True)
    pd.testing.assert_frame_equal(schedule(lean), schedule(typed))


# --- schema.yaml `reading`: how each delivered file is read, validated on load ------------------------------

def test_an_unknown_encoding_names_the_file_the_key_and_the_choices(config_copy: Path):
    path = config_copy / "schema.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace("  tables: {}\n", "  tables: {loans: {encoding: big5}}\n"),
                    encoding="utf-8")
    with pytest.raises(ConfigError, match=r"schema\.yaml: key 'reading\.tables\.loans\.encoding': Input should be "
                                          r"'detect', 'utf-8' or 'gb18030'"):
        load_schema(config_copy)


def test_a_reading_override_for_a_bad_table_name_or_limit_is_refused(config_copy: Path):
    path = config_copy / "schema.yaml"
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("  tables: {}\n", "  tables: {Loans.csv: {max_rows: 0}}\n"), encoding="utf-8")
    with pytest.raises(ConfigError) as error:
        load_schema(config_copy)
    assert "schema.yaml" in str(error.value) and "reading.tables" in str(error.value)
    path.write_text(text.replace("max_rows: 100000000", "max_rows: -1"), encoding="utf-8")
    with pytest.raises(ConfigError, match=r"schema\.yaml: key 'reading\.default\.max_rows': Input should be greater "
                                          r"than 0"):
        load_schema(config_copy)


def test_a_table_override_keeps_the_default_for_what_it_does_not_say(config_copy: Path):
    path = config_copy / "schema.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace("  tables: {}\n", "  tables: {loans: {encoding: gb18030}}\n"),
                    encoding="utf-8")
    reading = load_schema(config_copy).reading
    assert (reading.for_table("loans").encoding, reading.for_table("loans").delimiter) == ("gb18030", ",")
    assert reading.for_table("schedules") == reading.default and reading.default.encoding == "detect"


def test_documents_triage_limits_are_validated_on_load(config_copy: Path):
    path = config_copy / "documents.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace("active_content: quarantine", "active_content: ignore"),
                    encoding="utf-8")
    with pytest.raises(ConfigError, match=r"documents\.yaml: key 'triage\.active_content': Input should be "
                                          r"'quarantine' or 'flag'"):
        load_config(config_copy)


def test_a_typed_table_read_from_gb18030_or_with_a_bom_types_as_from_utf8():
    from plugins.ingest import read_table
    from plugins.portfolio.loanbook import read_csv_bytes
    from plugins.sample import core_extract, csv_bytes
    from plugins.sample.portfolio import generate_portfolio

    loans = csv_bytes(core_extract(generate_portfolio(), date(2026, 9, 30))["loans"])
    expected = type_tables({"loans": read_csv_bytes(loans)}, SCHEMA)["loans"]
    for delivered in (loans.decode("utf-8").encode("gb18030"), b"\xef\xbb\xbf" + loans, loans.replace(b"\n", b"\r\n")):
        frame, encoding, problems = read_table("loans", delivered, SCHEMA.reading.default)
        assert problems == [] and encoding in ("utf-8", "gb18030")
        pd.testing.assert_frame_equal(type_tables({"loans": frame}, SCHEMA)["loans"], expected)
