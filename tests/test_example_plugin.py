"""The example plugin distribution (examples/postloan-example-plugin), pip-installed into a folder of its own and
put on the path of a real month's run: its rule fires, its provisioning model is the booked method, and its
publisher receives the management report once a checker has approved it (maker-checker), as delivered, byte for
byte."""
from __future__ import annotations

import hashlib
import json
import os
import shlex
import shutil
import subprocess
import sys
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import pandas as pd
import pytest
import yaml

from plugins.config import DEFAULT_CONFIG_DIR
from tests.private_stack import private_stack

EXAMPLE = DEFAULT_CONFIG_DIR.parent / "examples" / "postloan-example-plugin"
# A whole month in another process (~2.5 min here): `make test-plugins`, which .ci/run runs after `make test`.
pytestmark = [pytest.mark.plugins, pytest.mark.slow]

MONTH = "2026-09"
MIN_BALANCE_YUAN = 100_000  # the example rule's setting chosen here: a large exposure is 100,000 yuan or more
FLAT_RATE = Decimal("0.0175")

RUN_MONTH = '''
import json, sys
from pathlib import Path
from pipelines import cli, settings
from plugins.config import load_config

out = Path(sys.argv[1])
cli.deliver_sample(load_config(settings.config_dir()), [sys.argv[2]])
result = cli.run_job("monthly_post_loan", sys.argv[2])
if not result.success:
    sys.exit("the month failed")
result.asset_value("loan_classification")[["contract_id", "balance_cents", "dpd", "tier", "rules_fired",
                                            "reasons"]].to_parquet(out / "classification.parquet")
result.asset_value("loan_provisions")[["contract_id", "balance_cents", "booked_method",
                                       "booked_provision_cents"]].to_parquet(out / "provisions.parquet")
(out / "published.json").write_text(json.dumps(result.asset_value("published_management_report")))
(out / "deliveries.json").write_text(json.dumps(result.asset_value("report_publications")))
'''


def _configure(config_dir: Path, reports_dir: Path) -> None:
    """plugins.yaml: the example plugins' settings; provisioning.yaml: the example model booked."""
    path = config_dir / "plugins.yaml"
    plugins = yaml.safe_load(path.read_text())
    plugins["classification_rules"]["settings"] = {
        "large_exposure_overdue": {"min_balance_yuan": MIN_BALANCE_YUAN, "min_dpd": 1}}
    plugins["provisioning_models"]["settings"] = {"flat_rate": {"rate": str(FLAT_RATE)}}
    plugins["publishers"].setdefault("settings", {})["report_folder"] = {"directory": str(reports_dir)}
    path.write_text(yaml.safe_dump(plugins, allow_unicode=True))
    provisioning = config_dir / "provisioning.yaml"
    provisioning.write_text(provisioning.read_text().replace("booked_method: regulatory_2002",
                                                             "booked_method: flat_rate", 1))


@pytest.fixture(scope="module")
def plugin_month(tmp_path_factory):
    root = tmp_path_factory.mktemp("example_plugin")
    site, source = root / "site", root / "source"
    shutil.copytree(EXAMPLE, source)  # setuptools builds in the source folder: not in the repository
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target", str(site),
                    str(source)], check=True, capture_output=True, timeout=300)
    out, reports = root / "out", root / "delivered_reports"
    out.mkdir()
    with private_stack(root, "plugin") as env:
        _configure(Path(env["POSTLOAN_CONFIG_DIR"]), reports)
        run_env = {**os.environ, **env, "PYTHONPATH": os.pathsep.join([str(site), str(DEFAULT_CONFIG_DIR.parent)])}
        listing = subprocess.run([sys.executable, "-m", "pipelines.cli", "plugins", "list"], env=run_env,
                                 capture_output=True, text=True, timeout=120)
        month = subprocess.run([sys.executable, "-c", RUN_MONTH, str(out), MONTH], env=run_env,
                               capture_output=True, text=True, timeout=1200)
        assert month.returncode == 0, month.stderr[-3000:]
        # (the folder publisher takes every kind: the month's collection notices went out, reports not)
        before_approval = sorted(p.name for p in (reports / "management_report").rglob("*") if p.is_file())
        # a checker (risk_officer, its own S3 identity) approves; the pipeline delivers and hands it over
        exports = _cli(run_env, "s3", "credentials", "risk_officer").stdout.split()[1:]
        checker = dict(item.split("=", 1) for item in exports)
        checker = {k: shlex.split(v)[0] for k, v in checker.items()}
        approved = _cli({**run_env, **checker}, "reports", "approve", "management_report", MONTH, "--as",
                        "risk_officer", "--reason", "数据已核对，同意报送", "--user", "王审核")
        delivered = _cli(run_env, "reports", "deliver")
        fetched = root / "fetched"
        got = _cli(run_env, "reports", "get", "management_report", MONTH, "-o", str(fetched))
    return {"listing": listing, "out": out, "reports": reports, "before_approval": before_approval,
            "approved": approved, "delivered": delivered, "got": got, "fetched": fetched}


def _cli(env: dict, *argv: str) -> subprocess.CompletedProcess:
    done = subprocess.run([sys.executable, "-m", "pipelines.cli", *argv], env=env, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, f"postloan {' '.join(argv)}: {done.stderr[-2000:]}"
    return done


def test_plugins_list_shows_the_example_plugins_and_their_source(plugin_month):
    listing = plugin_month["listing"]
    assert listing.returncode == 0, listing.stderr
    rows = [line.split() for line in listing.stdout.splitlines()]
    example = {row[2]: row for row in rows if "postloan-example-plugin" in row}
    assert set(example) == {"large_exposure_overdue", "flat_rate", "report_folder"}
    assert all(row[3] == "yes" for row in example.values())


def test_the_example_rule_fires_on_every_large_overdue_exposure_and_no_other(plugin_month):
    frame = pd.read_parquet(plugin_month["out"] / "classification.parquet")
    fired = set(frame.loc[frame["rules_fired"].str.split(",").map(lambda r: "large_exposure_overdue" in r),
                          "contract_id"])
    large_and_overdue = set(frame.loc[(frame["balance_cents"] >= MIN_BALANCE_YUAN * 100) & (frame["dpd"] >= 1),
                                      "contract_id"])
    assert fired and fired == large_and_overdue
    assert (frame.loc[frame["contract_id"].isin(fired), "tier"] >= 2).all()  # at least 关注


def test_the_example_model_is_the_booked_method_at_its_flat_rate(plugin_month):
    frame = pd.read_parquet(plugin_month["out"] / "provisions.parquet")
    assert set(frame["booked_method"]) == {"flat_rate"}
    by_hand = [int((Decimal(int(b)) * FLAT_RATE).quantize(Decimal(1), rounding=ROUND_HALF_UP))
               for b in frame["balance_cents"]]
    assert frame["booked_provision_cents"].tolist() == by_hand


def test_the_example_publisher_gets_nothing_before_the_report_is_approved(plugin_month):
    published = json.loads((plugin_month["out"] / "published.json").read_text())
    deliveries = json.loads((plugin_month["out"] / "deliveries.json").read_text())
    ours = [row for row in deliveries if row["publisher"] == "report_folder"]
    assert {r["file"] for r in ours} == {f["file"] for f in published["files"]}
    assert {r["status"] for r in ours} == {"awaiting approval"}
    assert plugin_month["before_approval"] == []


def test_the_example_publisher_receives_the_approved_report_as_delivered_byte_for_byte(plugin_month):
    published = json.loads((plugin_month["out"] / "published.json").read_text())
    assert "file(s) handed to publishers" in plugin_month["delivered"].stderr
    for f in published["files"]:
        copy = plugin_month["reports"] / "management_report" / MONTH / f["file"]
        final = plugin_month["fetched"] / f["file"]  # `reports get`: the delivered pack, hash-checked
        assert copy.read_bytes() == final.read_bytes()
        if f["file"].endswith(".pdf"):  # the final PDF carries its 审批页: other bytes than the draft
            assert hashlib.sha256(copy.read_bytes()).hexdigest() != f["sha256"]
        else:
            assert hashlib.sha256(copy.read_bytes()).hexdigest() == f["sha256"]
