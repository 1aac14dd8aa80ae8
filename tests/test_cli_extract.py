"""Specification: `postloan extract PATH.pdf` prints the document's kind, its figures or terms with
provenance, or its quarantine reason, as JSON, using the pipeline's own triage and extraction."""
from __future__ import annotations

import json

import pandas as pd

from pipelines.cli import main
from plugins.documents import render_document
from plugins.extraction import subtotal_breaks
from tests.test_documents_render_extract import LOAN_TERMS, statement_spec


def run(capsys, tmp_path, data: bytes, *extra: str) -> tuple[int, dict]:
    path = tmp_path / "doc.pdf"
    path.write_bytes(data)
    code = main(["extract", str(path), *extra])
    return code, json.loads(capsys.readouterr().out)


def test_a_statement_prints_each_canonical_figure_with_unit_base_value_and_provenance(capsys, tmp_path):
    code, out = run(capsys, tmp_path, render_document(statement_spec("B", "万元")))
    assert code == 0 and out["kind"] == "financial_statement" and out["period_end"] == "2024-12-31"
    cash = next(f for f in out["figures"] if f["canonical"] == "cash")
    assert (cash["current"], cash["unit"], cash["current_base_unit"], cash["currency"]) == (
        "152.35", "万元", "1523500.00", "CNY")
    assert cash["provenance"]["page"] == 1 and cash["provenance"]["label"] == "货币资金"
    assert len(cash["provenance"]["bbox"]) == 4


def test_a_contract_prints_its_terms_with_where_they_were_printed(capsys, tmp_path):
    code, out = run(capsys, tmp_path, render_document({"kind": "loan_contract", "terms": LOAN_TERMS}))
    assert code == 0 and out["kind"] == "loan_contract"
    assert out["terms"]["principal"]["value"] == "12345678.90"
    assert out["terms"]["principal"]["provenance"]["page"] == 1


def test_an_unreadable_document_prints_its_quarantine_reason(capsys, tmp_path):
    scan = render_document({"kind": "bad", "defect": "image_only", "declared_class": "loan_contract"})
    code, out = run(capsys, tmp_path, scan, "--declared-class", "loan_contract")
    assert code == 3 and (out["status"], out["reason_code"]) == ("quarantined", "needs_ocr")


def test_a_declared_class_that_does_not_match_is_quarantined_as_mislabelled(capsys, tmp_path):
    contract = render_document({"kind": "loan_contract", "terms": LOAN_TERMS})
    code, out = run(capsys, tmp_path, contract, "--declared-class", "financial_statement")
    assert code == 3 and out["reason_code"] == "mislabelled"


def _bs(rows, sha="s1"):
    return pd.DataFrame([{"sha256": sha, "scope": "entity", "statement": "balance_sheet", "canonical": c,
                          "label": label, "current_cents": cur, "prior_cents": None, "page": 1,
                          "bbox": json.dumps([x0, 0, 10, 1])} for c, label, cur, x0 in rows])


def test_a_subtotal_that_differs_from_its_printed_items_flags_the_statement():
    good = _bs([("cash", "货币资金", 100, 50), (None, "其他应收款", 30, 50), (None, "其中：应收利息", 10, 50),
                (None, "应收股利", 20, 66),  # indented under 其中: a breakdown, not an item
                ("current_assets", "流动资产合计", 130, 40)])
    assert subtotal_breaks(good).empty
    bad = _bs([("cash", "货币资金", 100, 50), (None, "其他应收款", 30, 50),
               ("current_assets", "流动资产合计", 131, 40)], sha="s2")
    breaks = subtotal_breaks(pd.concat([good, bad]))
    assert breaks[["sha256", "subtotal", "difference_cents"]].values.tolist() == [["s2", "current_assets", 1]]


def test_canonical_subtotals_must_add_up():
    frame = _bs([("current_assets", "流动资产合计", 100, 40), ("non_current_assets", "非流动资产合计", 50, 40),
                 ("total_assets", "资产总计", 160, 40)])
    breaks = subtotal_breaks(frame)
    assert ("total_assets", 10) in list(zip(breaks["subtotal"], breaks["difference_cents"]))
