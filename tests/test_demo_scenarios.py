"""The sample a newcomer sees (issue 15 item 6): by default a lender with a believable book; the stressed
book the rest of the suite is written on is a named scenario (`postloan demo --scenario stressed`)."""
from __future__ import annotations

from datetime import date

import pytest

from plugins.classification import with_previous_and_overrides
from plugins.config import load_config
from plugins.provisioning import indicators

MONTH_END = date(2026, 9, 30)  # the sample's last month, the one `make demo` runs


def _book_at_month_end(scenario: str):
    """The month-end book the pipeline classifies (with the delivered impairment assessments) and provisions
    by the booked method, from the sample's delivered tables."""
    from plugins import registry
    from plugins.classification.impairment import read_impairment
    from plugins.classification.period import classify_period
    from plugins.portfolio.loanbook import read_csv_bytes
    from plugins.sample import core_extract, csv_bytes, generate_portfolio

    cfg = load_config()
    s = cfg.sample
    portfolio = generate_portfolio(seed=s.seed, start=s.start, end=s.end, n_borrowers=s.borrowers,
                                   n_contracts=s.contracts, scenario=scenario)
    extract = {k: read_csv_bytes(csv_bytes(v)) for k, v in core_extract(portfolio, MONTH_END).items()}
    impairment = read_impairment(extract.get("impairment"), MONTH_END)
    book, verdicts, _ = classify_period(extract, MONTH_END, cfg.classification, registry.classification_rules(),
                                        impairment=impairment)
    book = book.merge(with_previous_and_overrides(verdicts), on="contract_id")
    booked = next(m for m in registry.provisioning_models() if m.name == cfg.provisioning.booked_method)
    book["booked_provision_cents"] = booked.provisions(book, cfg.provisioning)
    return book, indicators(book, book["booked_provision_cents"], cfg.provisioning), cfg


@pytest.fixture(scope="module")
def realistic():
    return _book_at_month_end("realistic")


def test_the_demo_runs_the_realistic_book_unless_told_otherwise():
    assert load_config().sample.scenario == "realistic"  # config/sample.yaml: what `make demo` delivers


def test_the_realistic_books_npl_ratio_is_under_five_percent(realistic):
    _, ratios, cfg = realistic
    assert ratios.npl_ratio < cfg.provisioning.thresholds.npl_ratio_max  # 5%: 达标


def test_every_tier_of_the_realistic_book_is_populated(realistic):
    book, _, _ = realistic
    assert set(book["tier"].astype(int)) == {1, 2, 3, 4, 5}


def test_most_of_the_realistic_books_ratios_meet_their_thresholds(realistic):
    _, ratios, cfg = realistic
    t = cfg.provisioning.thresholds
    met = [ratios.npl_ratio <= t.npl_ratio_max, ratios.provision_coverage >= t.provision_coverage_min,
           ratios.loan_provision_ratio >= t.loan_provision_ratio_min]
    assert sum(met) >= 2


def test_the_stressed_book_is_stressed():
    _, ratios, cfg = _book_at_month_end("stressed")
    assert ratios.npl_ratio > 3 * cfg.provisioning.thresholds.npl_ratio_max


def test_the_suite_runs_on_the_stressed_book_and_a_command_can_ask_for_either(monkeypatch):
    from pipelines.cli import SCENARIO_ENV, sample_scenario
    from pipelines.cli_errors import UserError

    cfg = load_config()
    assert sample_scenario(cfg) == "stressed"  # pinned for the suite by tests/conftest.py
    assert sample_scenario(cfg, "realistic") == "realistic"  # --scenario wins
    monkeypatch.delenv(SCENARIO_ENV)
    assert sample_scenario(cfg) == "realistic"  # config/sample.yaml
    monkeypatch.setenv(SCENARIO_ENV, "gloomy")
    with pytest.raises(UserError, match="unknown sample scenario 'gloomy'"):
        sample_scenario(cfg)


def test_an_unknown_scenario_on_the_command_line_is_one_line_and_exit_2(capsys):
    from pipelines.cli import main

    assert main(["demo", "--scenario", "gloomy"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "gloomy" in err[0] and "realistic" in err[0]
