"""Specification: a listed company's major-contract announcement (重大合同公告) is recognised for what it is
and its facts are read with provenance, against values written by hand from the page
(tests/corpus/contracts/*.yaml)."""
from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
import yaml

from plugins.documents import inspect_pdf
from plugins.documents.announcements import extract_announcement

LABELS = Path(__file__).parent / "corpus" / "contracts" / "cn_haige_002465_major_contract_announcement_2010.yaml"
CORPUS = Path("/work/shared/corpus")


@pytest.fixture(scope="module")
def haige():
    label = yaml.safe_load(LABELS.read_text(encoding="utf-8"))
    path = CORPUS / label["file"]
    if not path.exists():
        pytest.skip(f"{path} is not available")
    return label, path.read_bytes()


def test_the_announcement_is_recognised_and_a_declared_loan_contract_is_mislabelled(haige):
    _, data = haige
    as_loan = inspect_pdf(data, "loan_contract", 50_000_000, 1000)
    assert (as_loan.ok, as_loan.reason_code, as_loan.detected_class) == (False, "mislabelled", "contract_announcement")
    assert "重大合同公告" in as_loan.reason and "not a signed loan or lease contract" in as_loan.reason


def test_every_labelled_fact_is_read_exactly_with_its_page(haige):
    label, data = haige
    ex = extract_announcement(data)
    assert (ex.kind, ex.nature) == (label["kind"], label["nature"])
    for name, want in label["facts"].items():
        got = getattr(ex, name)
        expected = Decimal(want["value"]) if name == "amount" else want["value"]
        assert (name, got) == (name, expected)
        where = ex.provenance[name]
        x0, top, x1, bottom = where.bbox
        assert (name, where.page) == (name, want["page"]) and 0 <= x0 < x1 and top < bottom and where.text
    assert (ex.unit, ex.amount_yuan, ex.currency) == ("万元", Decimal("91585250.00"), "CNY")
    assert [(p.role, p.name) for p in ex.parties] == [(p["role"], p["name"]) for p in label["parties"]]
    assert [ex.provenance[k].page for k in ("first_party", "second_party")] == [p["page"] for p in label["parties"]]
    assert ex.warnings == []  # the amount on p1 agrees with the one on p3


def test_the_analyst_command_prints_the_facts_with_provenance(haige, capsys, tmp_path):
    import json

    from pipelines.cli import main

    _, data = haige
    path = tmp_path / "announcement.pdf"
    path.write_bytes(data)
    assert main(["extract", str(path)]) == 0
    out = json.loads(capsys.readouterr().out)
    assert (out["kind"], out["contract_nature"]) == ("contract_announcement", "purchase_and_sale")
    amount = out["facts"]["amount"]
    assert (amount["value"], amount["unit"], amount["value_base_unit"]) == ("9158.525", "万元", "91585250.00")
    assert amount["provenance"]["page"] == 3 and amount["provenance"]["text"] == "合同金额：9,158.525万元人民币"
