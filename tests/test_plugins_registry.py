"""Third parties add rules through entry points; a registered plugin takes part in classification."""
from __future__ import annotations

import sys
from datetime import date
from pathlib import Path

import pytest

from plugins import registry
from plugins.classification import classify_loan, LoanFacts
from plugins.config import load_config

PLUGIN_SOURCE = '''
from plugins.classification.rules import Finding

class GuarantorDefaultRule:
    name = "guarantor_in_default"
    article = "institution policy: a defaulted guarantor makes the loan 关注"

    def evaluate(self, loan, config):
        if loan.contract_id.endswith("-G"):
            return Finding(self.name, self.article, 2, {"contract_id": loan.contract_id})
        return None
'''


@pytest.fixture()
def installed_plugin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A real distribution on sys.path declaring a postloan.classification_rules entry point."""
    (tmp_path / "acme_rules.py").write_text(PLUGIN_SOURCE)
    dist = tmp_path / "acme_rules-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: acme-rules\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text("[postloan.classification_rules]\nguarantor_in_default = acme_rules:GuarantorDefaultRule\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    yield
    sys.modules.pop("acme_rules", None)


def test_a_registered_rule_is_discovered_and_applied(installed_plugin):
    rules = registry.classification_rules()
    assert "guarantor_in_default" in [r.name for r in rules]
    facts = LoanFacts(contract_id="HT9-G", borrower_id="B9", borrower_kind="corporate", as_of=date(2026, 9, 30),
                      balance_cents=100, dpd=0)
    verdict = classify_loan(facts, load_config().classification, rules)
    assert verdict.tier == 2 and verdict.findings[0].rule == "guarantor_in_default"


def test_a_broken_plugin_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    dist = tmp_path / "broken-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: broken\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text("[postloan.classification_rules]\nbad = no_such_module:Rule\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(registry.PluginError, match="plugin 'bad'"):
        registry.classification_rules()
