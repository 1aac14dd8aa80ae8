"""The loan book's fast path (the instalments' status in numpy, plugins/portfolio/loanbook._now_status) is the
SQL definition (_status_sql) computed another way: on the sample, at month ends before and after
restructurings, both give the same book, row for row and cell for cell."""
from __future__ import annotations

from datetime import date

import pandas as pd
import pytest

from plugins.portfolio import loanbook


@pytest.fixture(scope="module")
def sample_extract() -> dict[str, pd.DataFrame]:
    from plugins.sample import core_extract, csv_bytes
    from plugins.sample.portfolio import generate_portfolio

    as_of = date(2026, 9, 30)
    frames = core_extract(generate_portfolio(), as_of)
    return loanbook.typed_extract({name: loanbook.read_csv_bytes(csv_bytes(frame)) for name, frame in frames.items()})


@pytest.mark.parametrize("as_of, observation", [(date(2026, 9, 30), (6, 6)), (date(2025, 6, 30), (2, 6)),
                                                (date(2024, 12, 31), (1, 0)), (date(2026, 3, 31), (6, 12))])
def test_the_numpy_instalment_status_gives_the_books_of_the_sql_definition(sample_extract, monkeypatch, as_of,
                                                                          observation):
    fast = loanbook.open_book(sample_extract, as_of, observation)
    monkeypatch.setattr(loanbook, "_now_status", lambda *args: None)  # the SQL computes it all
    by_sql = loanbook.open_book(sample_extract, as_of, observation)
    assert fast["observation_met"].any() and fast["on_time_periods"].gt(0).any()
    assert len(fast) > 100 and fast["dpd"].gt(0).any() and fast["restructured"].any()
    pd.testing.assert_frame_equal(fast, by_sql)


def test_the_book_is_in_contract_id_order(sample_extract):
    book = loanbook.open_book(sample_extract, date(2026, 9, 30))
    assert book["contract_id"].tolist() == sorted(book["contract_id"].tolist())
