"""A failed data-quality check blocks publication and names the rows and the expectation."""
from __future__ import annotations

import io

import pandas as pd

MONTH = "2026-08"


def _tampered_delivery(cfg) -> tuple[dict[str, bytes], str]:
    from plugins.ingest import month_end
    from plugins.sample import core_extract, csv_bytes, generate_portfolio

    s = cfg.sample
    portfolio = generate_portfolio(seed=s.seed, start=s.start, end=s.end, n_borrowers=s.borrowers,
                                   n_contracts=s.contracts)
    tables = {name: csv_bytes(frame) for name, frame in core_extract(portfolio, month_end(MONTH)).items()}
    loans = pd.read_csv(io.BytesIO(tables["loans"]), dtype=str, keep_default_na=False)
    victim = loans.loc[loans["status"] == "正常", "contract_id"].iloc[0]
    loans.loc[loans["contract_id"] == victim, "annual_rate"] = "0.4800"  # above the 24% ceiling
    tables["loans"] = loans.to_csv(index=False, lineterminator="\n").encode()
    return tables, victim


def test_a_rate_above_the_ceiling_blocks_publication_and_names_the_contract(s3_env):
    from pipelines import cli
    from plugins.archive import ObjectStore, s3_settings
    from plugins.config import load_config
    from plugins.inbox import deliver

    cfg = load_config()
    store = ObjectStore(s3_settings(cfg.storage))
    store.ensure_buckets()
    tables, victim = _tampered_delivery(cfg)
    deliver(store, MONTH, tables, [])

    result = cli.run_job("monthly_post_loan", MONTH, cli._instance())

    evaluations = {e.event_specific_data.check_name: e.event_specific_data
                   for e in result.all_events if e.event_type_value == "ASSET_CHECK_EVALUATION"}
    gate = evaluations["core_extract_quality"]
    assert not gate.passed
    failing = gate.metadata["failing_rows"].value
    assert any("annual_rate" in key and victim in rows for key, rows in failing.items())
    assert victim in gate.description
    materialized = {e.asset_key.to_user_string() for e in result.get_asset_materialization_events()}
    assert "core_system_extract" in materialized
    assert not materialized & {"loan_classification", "loan_provisions", "management_report",
                               "published_management_report"}
    assert not list(store.list_keys(store.settings.archive_bucket, f"reports/management_report/{MONTH}/"))


def test_a_date_that_does_not_exist_blocks_the_month_and_names_file_column_and_row():
    # 2026-02-30 has the shape YYYY-MM-DD but is no date: the declared type refuses it (GX's format check too).
    from dagster import build_asset_check_context

    from assets.ingest import core_extract_quality
    from pipelines.resources import PostloanConfigResource
    from plugins.config import load_config
    from plugins.portfolio.loanbook import read_csv_bytes

    tables, _ = _tampered_delivery(load_config())
    frames = {name: read_csv_bytes(data) for name, data in tables.items()}
    frames["loans"]["annual_rate"] = frames["loans"]["annual_rate"].where(frames["loans"]["annual_rate"] != "0.4800",
                                                                          "0.0435")
    frames["schedules"].loc[2, "due_date"] = "2026-02-30"

    result = core_extract_quality(build_asset_check_context(), core_system_extract=frames,
                                  config=PostloanConfigResource())

    assert not result.passed
    assert result.metadata["failing_rows"].value["schedules.csv:declared_type:due_date"] == ["row 3"]
    assert "schedules.csv: column 'due_date' should be an ISO date (YYYY-MM-DD), but is not at row 3 ('2026-02-30')" \
        in result.description


def test_a_loan_starting_after_the_month_end_fails_naming_it_and_only_with_a_month_given():
    # max_value_from: month_end (config/validation.yaml): the month end is the run's partition; without one
    # (a validation outside a month run) the expectation is left out rather than guessed.
    from datetime import date

    from plugins.config import load_config
    from plugins.portfolio.loanbook import read_csv_bytes
    from plugins.validation import load_validation_config, validate_extract

    cfg = load_config()
    tables, victim = _tampered_delivery(cfg)
    frames = {name: read_csv_bytes(data) for name, data in tables.items()}
    loans = frames["loans"]
    loans["annual_rate"] = loans["annual_rate"].where(loans["annual_rate"] != "0.4800", "0.0435")
    loans.loc[loans["contract_id"] == victim, ["start_date", "original_maturity_date", "maturity_date"]] = \
        ["2026-09-15", "2029-09-15", "2029-09-15"]
    rules = load_validation_config(cfg.config_dir / "validation.yaml")

    outcome = validate_extract(frames, rules, month_end=date(2026, 8, 31))
    [failure] = [f for f in outcome.blocking_failures if f.column == "start_date"]
    assert failure.row_ids == [victim] and failure.expectation == "expect_column_values_to_be_between"
    assert failure.description.startswith("start date not after the month end")
    assert validate_extract(frames, rules).success
