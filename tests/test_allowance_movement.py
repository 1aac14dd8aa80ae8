"""The allowance roll-forward adds up to the cent: opening + movements = closing, per stage and in total."""
from __future__ import annotations

from datetime import date

import pandas as pd
import pytest

from plugins.provisioning.movement import allowance_movement, reconciles


def ends(*rows: tuple[str, int, int]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["contract_id", "stage", "ecl_cents"])


def test_each_line_attributes_its_loans():
    opening = ends(("kept", 1, 1_000), ("moved", 1, 2_000), ("repaid", 1, 300), ("written", 3, 50_000))
    closing = ends(("kept", 1, 900), ("moved", 2, 9_000), ("new", 1, 400))
    # "moved" measured at the opening date but in stage 2 (lifetime): 7,000.
    table = allowance_movement(opening, closing, {"moved": 7_000}, {"written"}, recoveries_cents=250)
    lines = table.set_index("line")
    assert lines.loc["opening", "total"] == 53_300
    assert lines.loc["new_loans", "stage_1"] == 400
    assert lines.loc["repayments_derecognised", "stage_1"] == -300
    assert lines.loc["write_offs", "stage_3"] == -50_000
    assert (lines.loc["transfers_between_stages", "stage_1"], lines.loc["transfers_between_stages", "stage_2"]) == (-2_000, 7_000)
    assert lines.loc["recoveries", "stage_3"] == 250
    # kept: 900 − 1,000; moved: 9,000 − 7,000; recoveries released through the charge: −250.
    assert (lines.loc["changes_in_risk_parameters", "stage_1"], lines.loc["changes_in_risk_parameters", "stage_2"],
            lines.loc["changes_in_risk_parameters", "stage_3"]) == (-100, 2_000, -250)
    assert lines.loc["closing", "total"] == 10_300
    assert reconciles(table)


def test_a_table_that_does_not_add_up_is_detected():
    table = allowance_movement(ends(("a", 1, 100)), ends(("a", 1, 150)), {}, set(), 0)
    table.loc[table["line"] == "new_loans", ["stage_1", "total"]] = 1
    assert not reconciles(table)


@pytest.fixture(scope="module")
def sample_extract():
    from plugins.config import load_config
    from plugins.portfolio.loanbook import read_csv_bytes
    from plugins.sample import core_extract, csv_bytes, generate_portfolio

    s = load_config().sample
    portfolio = generate_portfolio(seed=s.seed, start=s.start, end=s.end, n_borrowers=s.borrowers,
                                   n_contracts=s.contracts)
    # As the pipeline reads it: every column as text.
    return {name: read_csv_bytes(csv_bytes(frame)) for name, frame in core_extract(portfolio, s.end).items()}


def _measure(extract, as_of: date, config):
    from plugins import registry
    from plugins.classification import classify_facts, facts_frame
    from plugins.provisioning import expected_credit_loss
    from plugins.provisioning.ecl import inputs_from_extract
    from plugins.provisioning.history import book_at

    book = book_at(extract, as_of)
    verdicts = classify_facts(facts_frame(book, as_of), config.classification, registry.classification_rules())
    book = book.assign(tier=verdicts["tier"].to_numpy())
    inputs = inputs_from_extract(extract, as_of)   # fallback matrix: no history needed here
    return book, inputs, expected_credit_loss(book, inputs, config.provisioning)


@pytest.mark.parametrize("month_end", [date(2026, 9, 30), date(2025, 12, 31)])
def test_sample_portfolio_movement_reconciles_to_both_closing_balances(sample_extract, month_end):
    from plugins.config import load_config
    from plugins.provisioning import expected_credit_loss
    from plugins.provisioning.history import month_end_before, recoveries_between, written_off_between

    config = load_config()
    previous = month_end_before(month_end)
    opening_book, opening_inputs, opening = _measure(sample_extract, previous, config)
    _, _, closing = _measure(sample_extract, month_end, config)
    stage_now = dict(zip(closing["contract_id"], closing["stage"]))
    moved = {c: stage_now[c] for c, s in zip(opening["contract_id"], opening["stage"]) if c in stage_now and stage_now[c] != s}
    restated = expected_credit_loss(opening_book[opening_book["contract_id"].isin(moved)], opening_inputs,
                                    config.provisioning, stages=moved)
    written = written_off_between(sample_extract, previous, month_end)
    table = allowance_movement(opening, closing, dict(zip(restated["contract_id"], restated["ecl_cents"])),
                               set(written["contract_id"]), recoveries_between(sample_extract, previous, month_end))
    lines = table.set_index("line")
    assert lines.loc["opening", "total"] == opening["ecl_cents"].sum()
    assert lines.loc["closing", "total"] == closing["ecl_cents"].sum()
    assert reconciles(table)


def test_a_loan_written_off_in_the_month_is_in_the_opening_book_only(sample_extract):
    from plugins.provisioning.history import book_at, written_off_between

    written = written_off_between(sample_extract, date(2023, 1, 1), date(2026, 9, 30))
    row = written.iloc[0]
    when = row["written_off_on"]
    before = date.fromordinal(when.toordinal() - 1)
    assert row["contract_id"] in set(book_at(sample_extract, before)["contract_id"])
    assert row["contract_id"] not in set(book_at(sample_extract, when)["contract_id"])
    balance = book_at(sample_extract, before).set_index("contract_id").loc[row["contract_id"], "balance_cents"]
    assert balance == row["written_off_cents"]
