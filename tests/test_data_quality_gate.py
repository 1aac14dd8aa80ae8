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
