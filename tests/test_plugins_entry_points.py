"""Built-ins and third-party plugins register alike through entry points; config/plugins.yaml orders them,
switches them off and gives each its own settings, validated with the file, the key and the problem named."""
from __future__ import annotations

import sys
from datetime import date
from pathlib import Path

import pandas as pd
import pytest

from plugins import registry
from plugins.classification import DEFAULT_RULES, LoanFacts, classify_book
from plugins.config import ConfigError, PluginGroup, Plugins, load_config
from plugins.provisioning.methods import DEFAULT_MODELS, provision_columns

CFG = load_config()

ACME_SOURCE = '''
from decimal import Decimal

import pandas as pd
from pydantic import BaseModel, Field

from plugins.classification.engine import append_findings
from plugins.classification.rules import Finding
from plugins.money import cents_times_rate_array


class WatchSettings(BaseModel):
    min_balance_yuan: int = Field(gt=0)


class LargeBalanceWatch:
    name = "large_balance_watch"
    article = "institution policy: a balance of at least min_balance_yuan is 关注"
    settings_model = WatchSettings

    def __init__(self, settings):
        self.settings = settings

    def sql(self, config):
        return (f"SELECT contract_id, 2 AS floor, json_object('balance_cents', balance_cents) AS facts "
                f"FROM book WHERE balance_cents >= {self.settings.min_balance_yuan * 100}")


class GuarantorGroupRule:
    """A book rule: every claim of borrower G1 becomes 关注 (a guarantor group in default)."""
    name = "guarantor_group_default"
    article = "institution policy: a defaulted guarantor group"

    def apply(self, verdicts, facts, config):
        rows = verdicts.index[(facts["borrower_id"] == "G1").to_numpy() & (verdicts["tier"] < 2).to_numpy()]
        finding = Finding(self.name, self.article, 2, {"borrower_id": "G1"})
        return append_findings(verdicts, rows, self.name, pd.Series([finding.describe()] * len(rows)),
                               pd.Series([finding.as_json()] * len(rows)), 2)


class HalfPercent:
    name = "half_percent"

    def provisions(self, book, config):
        return pd.Series(cents_times_rate_array(book["balance_cents"].to_numpy(), Decimal("0.005")),
                         index=book.index, dtype="int64")
'''

ENTRY_POINTS = """[postloan.classification_rules]
large_balance_watch = acme_postloan:LargeBalanceWatch

[postloan.book_rules]
guarantor_group_default = acme_postloan:GuarantorGroupRule

[postloan.provisioning_models]
half_percent = acme_postloan:HalfPercent
"""


@pytest.fixture()
def acme(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """A real distribution (acme-postloan 2.0) on sys.path with a rule, a book rule and a provisioning model."""
    (tmp_path / "acme_postloan.py").write_text(ACME_SOURCE, encoding="utf-8")
    dist = tmp_path / "acme_postloan-2.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: acme-postloan\nVersion: 2.0\n")
    (dist / "entry_points.txt").write_text(ENTRY_POINTS)
    monkeypatch.syspath_prepend(str(tmp_path))
    yield
    sys.modules.pop("acme_postloan", None)


def _with(**sections: PluginGroup) -> Plugins:
    return CFG.plugins.model_copy(update=sections)


def loan(contract_id: str, borrower: str = "B1", balance: int = 100_000_00, dpd: int = 0) -> LoanFacts:
    return LoanFacts(contract_id=contract_id, borrower_id=borrower, borrower_kind="corporate",
                     as_of=date(2026, 9, 30), balance_cents=balance, dpd=dpd)


def test_the_built_in_rules_and_models_are_entry_points_of_this_project():
    listed = {(p.kind, p.name): p for p in registry.installed(CFG.plugins)}
    for rule in DEFAULT_RULES:
        assert listed[("classification_rules", rule.name)].builtin
        assert listed[("classification_rules", rule.name)].source.startswith("postloan ")
    for model in DEFAULT_MODELS:
        assert listed[("provisioning_models", model.name)].builtin
    assert listed[("book_rules", "debtor_npl_share")].builtin


def test_the_bundled_order_is_the_rules_order_of_the_engine():
    assert [r.name for r in registry.classification_rules(CFG.plugins)] == [r.name for r in DEFAULT_RULES]
    assert [m.name for m in registry.provisioning_models(CFG.plugins)] == ["regulatory_2002", "standard_2012", "ecl"]


def test_a_disabled_rule_does_not_run_and_is_listed_as_disabled():
    plugins = _with(classification_rules=CFG.plugins.classification_rules.model_copy(update={"disabled": ["extended"]}))
    assert "extended" not in [r.name for r in registry.classification_rules(plugins)]
    row = next(p for p in registry.installed(plugins) if p.name == "extended")
    assert not row.enabled and row.position is None


def test_order_puts_the_named_rules_first():
    plugins = _with(classification_rules=PluginGroup(order=["borrower_in_liquidation"]))
    assert registry.classification_rules(plugins)[0].name == "borrower_in_liquidation"


def test_disabling_a_plugin_that_is_not_installed_names_file_and_key():
    plugins = _with(provisioning_models=PluginGroup(disabled=["gut_feeling"]))
    with pytest.raises(ConfigError, match=r"plugins\.yaml: key 'provisioning_models\.disabled': 'gut_feeling' "
                                          r"not installed"):
        registry.provisioning_models(plugins)


def test_a_third_party_rule_gets_its_settings_and_fires(acme):
    plugins = _with(classification_rules=CFG.plugins.classification_rules.model_copy(
        update={"settings": {"large_balance_watch": {"min_balance_yuan": 1_000_000}}}))
    rules = registry.classification_rules(plugins)
    verdicts = classify_book([loan("HT1", balance=1_000_000_00), loan("HT2", "B2", balance=999_999_99)],
                             CFG.classification, rules)
    assert [v.tier for v in verdicts] == [2, 1]
    assert verdicts[0].findings[0].rule == "large_balance_watch"


def test_a_wrong_setting_names_file_key_and_problem(acme):
    plugins = _with(classification_rules=PluginGroup(settings={"large_balance_watch": {"min_balance_yuan": 0}}))
    with pytest.raises(ConfigError, match=r"plugins\.yaml: key 'classification_rules\.settings\."
                                          r"large_balance_watch\.min_balance_yuan': Input should be greater than 0"):
        registry.classification_rules(plugins)


def test_a_third_party_book_rule_runs_after_the_built_in_one(acme):
    plugins = _with(classification_rules=PluginGroup(disabled=["large_balance_watch"]))
    verdicts = classify_book([loan("HT1", "G1"), loan("HT2", "B2")], CFG.classification,
                             registry.classification_rules(plugins))
    assert [v.tier for v in verdicts] == [2, 1]
    assert verdicts[0].findings[-1].rule == "guarantor_group_default"


def test_switching_off_the_debtor_rule_keeps_each_claim_on_its_own():
    # 2023 Measures art. 8 (debtor_npl_share): 11% of B1's balance non-performing makes the other claim 次级 …
    loans = [loan("HT1", balance=11_000_00, dpd=100), loan("HT2", balance=89_000_00)]
    assert [v.tier for v in classify_book(loans, CFG.classification, registry.classification_rules(CFG.plugins))] \
        == [3, 3]
    # … unless the lender switches the rule off in config/plugins.yaml.
    plugins = _with(book_rules=PluginGroup(disabled=["debtor_npl_share"]))
    assert [v.tier for v in classify_book(loans, CFG.classification, registry.classification_rules(plugins))] \
        == [3, 1]


def test_a_third_party_model_can_be_the_booked_method(acme):
    provisioning = CFG.provisioning.model_copy(update={"booked_method": "half_percent"})
    book = pd.DataFrame({"contract_id": ["HT1", "HT2"], "tier": [1, 3], "balance_cents": [100_000_00, 1_01]})
    frame = provision_columns(book, registry.provisioning_models(CFG.plugins), provisioning)
    assert frame["booked_method"].tolist() == ["half_percent", "half_percent"]
    assert frame["booked_provision_cents"].tolist() == [500_00, 1]  # 0.5% of 100,000.00 and of 1.01 (0.505 → 1)


def test_booking_a_model_that_is_not_installed_is_refused_on_load(tmp_path: Path):
    import shutil

    from plugins.config import DEFAULT_CONFIG_DIR

    shutil.copytree(DEFAULT_CONFIG_DIR, tmp_path / "config")
    path = tmp_path / "config" / "provisioning.yaml"
    path.write_text(path.read_text().replace("booked_method: regulatory_2002", "booked_method: half_percent", 1))
    with pytest.raises(ConfigError, match=r"provisioning\.yaml: key 'booked_method': .*'half_percent' is not an "
                                          r"installed provisioning model"):
        load_config(tmp_path / "config")


def test_a_disabled_booked_model_is_refused_at_the_run():
    provisioning = CFG.provisioning.model_copy(update={"booked_method": "ecl"})
    plugins = _with(provisioning_models=PluginGroup(disabled=["ecl"]))
    book = pd.DataFrame({"contract_id": ["HT1"], "tier": [1], "balance_cents": [100_00]})
    with pytest.raises(ConfigError, match=r"provisioning\.yaml: key 'booked_method': 'ecl' is not an enabled"):
        provision_columns(book, registry.provisioning_models(plugins), provisioning)


def test_plugins_list_shows_source_and_enabled(acme, capsys):
    from pipelines import cli

    assert cli.main(["plugins", "list", "--kind", "book_rules"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["kind", "#", "name", "enabled", "source", "target"]
    rows = {line.split()[2]: line for line in lines[1:]}
    assert "postloan 0.1.0 (built-in)" in rows["debtor_npl_share"]
    assert "acme-postloan 2.0" in rows["guarantor_group_default"] and " yes " in rows["guarantor_group_default"]


def test_plugins_list_names_a_plugin_that_fails_to_load(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys):
    from pipelines import cli

    dist = tmp_path / "broken-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: broken\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text("[postloan.publishers]\nbad = no_such_module:Publisher\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    assert cli.main(["plugins", "list"]) == 2
    error = capsys.readouterr().err.strip()
    assert error.startswith("postloan: error: plugin 'bad' (no_such_module:Publisher)") and "\n" not in error
