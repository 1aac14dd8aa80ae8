"""Use of funds (issue 14 item 6): fund flows against the contract's declared purpose by the rules of
config/monitoring.yaml; misuse is a signal with the flows as evidence. Hand numbers."""
from datetime import date

import pandas as pd

from plugins.config import load_config
from plugins.monitoring.use_of_funds import fund_flow_findings, misuse_signals

CFG = load_config()
AS_OF = date(2026, 9, 30)
LOANS = pd.DataFrame({"contract_id": ["C1", "C2", "C3"], "borrower_id": ["B1", "B2", "B3"],
                      "principal": ["1000000.00", "1000000.00", "1000000.00"],
                      "purpose": ["采购原材料", "流动资金周转", "直租购置叉车"]})
BORROWERS = pd.DataFrame({"borrower_id": ["B1", "B2", "B3", "B4"], "name": ["甲公司", "乙公司", "丙公司", "丁公司"],
                          "group_id": ["G1", "", "", "G1"], "related_party": ["false"] * 4})


def _flows(*rows):
    return pd.DataFrame(rows, columns=["contract_id", "flow_date", "payee", "payee_account_type", "payee_category",
                                       "amount", "entrusted_payment"])


def test_each_rule_names_the_flow_that_breaks_it():
    flows = _flows(("C1", "2026-09-02", "原材料供应商01", "对公", "原材料", "600000.00", "true"),      # as declared
                   ("C1", "2026-09-03", "某证券营业部", "对公", "证券投资", "100000.00", "false"),     # forbidden
                   ("C1", "2026-09-04", "丁公司", "对公", "原材料", "200000.00", "true"),            # B1's group
                   ("C3", "2026-09-05", "某家具城", "对公", "消费", "50000.00", "true"),             # not the purpose
                   ("C2", "2026-09-06", "商品采购供应商02", "对公", "商品采购", "300000.00", "false"))  # 30%, not entrusted
    found = fund_flow_findings(flows, LOANS, BORROWERS, AS_OF, CFG.monitoring.use_of_funds)
    assert list(zip(found["contract_id"], found["finding"], found["amount_cents"])) == [
        ("C1", "禁止用途", 10_000_000), ("C1", "回流借款人或关联方", 20_000_000),
        ("C3", "与合同用途不符", 5_000_000), ("C2", "大额未受托支付", 30_000_000)]
    book = pd.DataFrame({"contract_id": ["C1", "C2"], "borrower_id": ["B1", "B2"]})
    signals = misuse_signals(found, book, CFG.early_warning)
    assert [(s.contract_id, s.severity, s.evidence["flows"], s.evidence["amount_cents"]) for s in signals] == [
        ("C1", "high", 2, 30_000_000), ("C2", "high", 1, 30_000_000)]  # C3 is not on the book
