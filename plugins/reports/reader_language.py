"""The management pack in its readers' language: every rule, signal, reason and status as a Chinese phrase
with its article or policy reference; amounts in 元 or 万元, never cents.

The codes (`overdue_days`, `dpd_over_90`, `corrupt`, …) stay in the data, the manifests and the workbook's
detail sheets; the PDF a CRO signs reads these phrases instead. A code this module does not know is shown by a
neutral phrase ("其他规则", "其他预警信号"), never raw, so a new rule cannot leak its code into the PDF.
"""
from __future__ import annotations

import json
import re
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

TIERS = {1: "正常", 2: "关注", 3: "次级", 4: "可疑", 5: "损失"}
MEASURES = "《商业银行金融资产风险分类办法》（2023）"
RESERVE_2002 = "《银行贷款损失准备计提指引》（2002）"
WARNING_POLICY = "本机构贷后管理制度·风险预警"

# rule code → (phrase with {fact} placeholders, reference). "待核实" marks a reading DOMAIN.md flags to confirm.
RULES: dict[str, tuple[str, str]] = {
    "overdue_days": ("逾期{dpd}天（超过{threshold_days}天）", f"{MEASURES}第九至十一条"),
    "credit_card_dpd_band": ("信用卡逾期{dpd}天（超过{threshold_days}天）", "信用卡逾期分档（待核实）"),
    "refinance_new_to_repay_old": ("借新还旧", "《贷款风险分类指引》（2007）第八条（2023年适用待核实）"),
    "restructured_in_observation": ("重组资产处于观察期（{restructured_on}重组，已还款{repayment_periods}期）",
                                    f"{MEASURES}第十二至十四条"),
    "restructured_again_in_observation": ("观察期内再次重组", f"{MEASURES}重组资产条款（待核实）"),
    "restructured_previously_non_performing": ("重组前已为不良", f"{MEASURES}重组资产条款（待核实）"),
    "restructured_no_upgrade_in_observation": ("观察期内不得上调分类", f"{MEASURES}重组资产条款（待核实）"),
    "extended": ("已展期（{extended_on}）", "本机构展期管理政策"),
    "credit_impaired": ("已发生信用减值", f"{MEASURES}第十条"),
    "impaired_ecl_doubtful": ("信用减值，预期信用损失占账面余额{ecl_ratio}", f"{MEASURES}第十一条（待核实）"),
    "impaired_ecl_loss": ("预期信用损失占账面余额{ecl_ratio}", f"{MEASURES}第十二条（待核实）"),
    "borrower_in_liquidation": ("债务人进入破产清算", f"{MEASURES}第十二条（待核实）"),
    "debtor_npl_share": ("同一债务人在本机构的不良债权占比{npl_share}", f"{MEASURES}第八条（债务人维度）"),
    "cross_institution_overdue_share": ("债务人在所有金融机构逾期90天以上债务占比{share}",
                                        f"{MEASURES}第八条（跨机构）"),
    "manual_override": ("人工调整分类（{override_by}：{override_reason}）", "本机构分类认定审批"),
}

# rule code → its name, where free text mentions a rule without its facts
RULE_NAMES: dict[str, str] = {
    "overdue_days": "逾期天数下限", "credit_card_dpd_band": "信用卡逾期分档", "refinance_new_to_repay_old": "借新还旧",
    "restructured_in_observation": "重组观察期", "restructured_again_in_observation": "观察期内再次重组",
    "restructured_previously_non_performing": "重组前已为不良", "restructured_no_upgrade_in_observation": "观察期内不上调",
    "extended": "展期", "credit_impaired": "信用减值", "impaired_ecl_doubtful": "减值损失率（可疑）",
    "impaired_ecl_loss": "减值损失率（损失）", "borrower_in_liquidation": "破产清算",
    "debtor_npl_share": "债务人不良占比", "cross_institution_overdue_share": "跨机构逾期占比",
    "manual_override": "人工调整",
}

# early-warning signal code → (phrase, reference); thresholds are in config/early_warning.yaml.
SIGNALS: dict[str, tuple[str, str]] = {
    "dpd_over_90": ("逾期超过90天", WARNING_POLICY),
    "repeated_overdue": ("近期多次逾期", WARNING_POLICY),
    "cured_then_relapsed": ("结清逾期后再次逾期", WARNING_POLICY),
    "maturity_without_renewal": ("临近到期未办理展期或续贷", WARNING_POLICY),
    "collateral_value_down": ("抵押物评估价值下降", WARNING_POLICY),
    "loan_to_value_high": ("贷款余额超过抵押物评估价值", WARNING_POLICY),
    "refinance_new_to_repay_old": ("借新还旧", WARNING_POLICY),
    "debtor_contagion": ("同一债务人其他债权已为不良", f"{MEASURES}第八条"),
    "net_loss": ("最近一期报表净利润为负", WARNING_POLICY),
    "revenue_down": ("营业收入同比大幅下降", WARNING_POLICY),
    "debt_to_asset_covenant": ("资产负债率超过契约上限", "借款合同财务契约"),
    "negative_equity": ("所有者权益为负", WARNING_POLICY),
    "statements_overdue": ("未按期提供财务报表", "本机构贷后管理制度第七条（二）"),
    "fund_misuse": ("贷款资金用途异常", "借款合同约定用途；本机构贷后管理制度·资金流向监控"),
    "guarantor_non_performing": ("保证人已为不良", WARNING_POLICY),
    "inspection_finding": ("贷后检查发现风险事项", "本机构贷后管理制度·贷后检查"),
    "guarantor_deterioration": ("保证人财务状况恶化", WARNING_POLICY),
    "appraisal_overdue": ("抵押物未按期重新评估", "本机构押品管理制度"),
    "insurance_expiring": ("抵押物或租赁物保险即将到期", "本机构押品管理制度"),
    "insurance_lapsed": ("抵押物或租赁物保险已过期", "本机构押品管理制度"),
    "vehicle_inspection_expired": ("车辆年检已过期", "本机构车辆租赁物管理制度"),
    "gps_silent": ("车辆定位信号中断", "本机构车辆租赁物管理制度"),
    "lease_end_not_returned": ("租期届满未返还或留购", "融资租赁合同约定"),
    "major_event": ("借款人发生重大事项", WARNING_POLICY),
}
SEVERITIES = {"high": "高", "medium": "中", "low": "低"}

# quarantine reason code → phrase (what is wrong with the file and what the sender should do).
QUARANTINE: dict[str, str] = {
    "corrupt": "文件损坏，无法读取：请送件方重新提供",
    "encrypted": "文件已加密：请提供未加密文件",
    "image_only": "扫描件无文字层，无法自动识别：请提供可识别文本的文件或启用文字识别",
    "not_pdf": "不是 PDF 文件：请按约定格式重新提供",
    "mislabelled": "文件内容与申报类型不符：请核对后重新提供",
    "oversized": "文件超过大小或页数上限：请拆分后重新提供",
    "resource_limit": "文件处理超出资源上限：请核对文件后重新提供",
    "active_content": "文件含有脚本等活动内容：已隔离，请提供不含活动内容的文件",
    "unreadable": "文件无法读取：请送件方重新提供",
    "unlisted": "文件未列入送件清单：请送件方补列清单或撤回文件",
    "needs_ocr": "扫描件无文字层：需经文字识别后方可使用",
}

# fact and field names → Chinese labels (a fact outside this table is left out of the phrase, not shown raw).
FACTS: dict[str, str] = {
    "dpd": "逾期天数", "threshold_days": "阈值天数", "share": "占比", "ecl_ratio": "预期信用损失率",
    "balance": "余额", "threshold": "阈值", "value": "数值", "events": "逾期次数", "flows": "笔数",
    "amount": "金额", "npl_share": "不良占比", "issuance_type": "发放类型", "previous_tier": "上期分类",
    "months_since_first_repayment": "首次还款后月数", "repayment_periods": "已还款期数",
    "dpd_before_restructure": "重组前逾期天数", "tier_before_restructure": "重组前分类", "restructured_on": "重组日",
    "extended_on": "展期日", "guarantor_name": "保证人", "guarantor_contract": "保证人合同",
    "guarantor_tier": "保证人分类", "guarantor_dpd": "保证人逾期天数", "inspected_on": "检查日期",
    "non_performing_claims": "不良债权", "finding": "检查发现", "payee": "收款人", "category": "用途类别",
    "period_end": "报表期", "filing_period_end": "报表期", "age_months": "报表月龄", "ratio": "比率",
    "debt_to_asset": "资产负债率", "covenant": "约定上限", "ltv": "抵质押率", "maturity": "到期日",
    "days_to_maturity": "距到期天数", "net_profit": "净利润", "revenue_change": "营业收入变动", "equity": "所有者权益",
    "appraised_value": "评估价值", "previous_value": "上次评估价值", "decline": "降幅", "findings": "发现",
    "payees": "收款人", "purpose": "用途", "inspector": "检查人", "recorded": "记录", "plate": "车牌",
    "since": "起始日", "days": "天数", "source": "来源", "description": "描述", "tier": "分类",
    "guarantor": "保证人", "collateral": "抵押物", "expires_on": "到期日", "due": "应办日", "action": "措施",
}
TIER_FIELDS = {"tier", "guarantor_tier", "previous_tier", "tier_before_restructure"}
STATUS: dict[str, str] = {
    "archived": "已归档", "quarantined": "已隔离", "draft": "草稿（待审批）", "approved": "已批准",
    "rejected": "已退回", "delivered": "已报送", "overdue": "逾期", "done": "已完成", "pending": "待完成",
    "kept": "已兑现", "broken": "未兑现", "True": "是", "False": "否",
}

_CENTS = re.compile(r"(?P<name>[A-Za-z_]*?)_?cents\s*[=:]\s*(?P<value>-?\d+)")
# snake_case field or rule names (each part starts with a letter, so file names like scan_0012.pdf are not codes)
_CODE = re.compile(r"(?<![A-Za-z0-9_.])[a-z][a-z0-9]*(?:_[a-z][a-z0-9]*)+(?![A-Za-z0-9_.])")


def yuan_text(cents: int | str) -> str:
    """12345678 cents → '123,456.78 元' (the one display of a cent amount in the PDF)."""
    value = (Decimal(int(cents)) / 100).quantize(Decimal("0.01"), ROUND_HALF_UP)
    return f"{value:,.2f} 元"


def _fact(value: Any) -> str:
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, float) or (isinstance(value, str) and re.fullmatch(r"0?\.\d+", value or "")):
        return f"{(Decimal(str(value)) * 100).quantize(Decimal('0.01'), ROUND_HALF_UP)}%"
    return "—" if value is None else str(value)


def _fill(template: str, facts: dict) -> str:
    """The phrase with its facts; a missing fact drops its parenthesis rather than showing a placeholder."""
    def value(match: re.Match) -> str:
        key = match.group(1)
        return _fact(facts[key]) if key in facts and facts[key] is not None else "\0"

    text = re.sub(r"\{(\w+)\}", value, template)
    text = re.sub(r"（[^（）]*\0[^（）]*）", "", text)
    return text.replace("\0", "")


def rule_phrase(rule: str, facts: dict | None = None, floor: int | None = None) -> str:
    """'逾期292天（超过270天）→ 至少可疑（《商业银行金融资产风险分类办法》（2023）第九至十一条）'."""
    template, reference = RULES.get(rule, ("其他分类规则", "本机构分类政策"))
    facts = dict(facts or {})
    if facts.get("threshold_days") == 0:  # any day overdue: '逾期43天', not '（超过0天）'
        facts.pop("threshold_days")
    phrase = _fill(template, facts)
    floor_text = f" → 至少{TIERS[int(floor)]}" if floor is not None and int(floor) in TIERS else ""
    return f"{phrase}{floor_text}（{reference}）"


def reasons_phrase(reasons_json: str | None, reasons_text: str | None = None) -> str:
    """A loan's classification reasons as Chinese phrases, from the engine's findings (reasons_json); a loan
    without findings (正常) reads '按期还款'; a finding list that cannot be read falls back to chinese_text."""
    try:
        findings = json.loads(reasons_json) if reasons_json else []
    except (TypeError, ValueError):
        return chinese_text(reasons_text)
    if not findings:
        return chinese_text(reasons_text) if reasons_text and not _CODE.search(str(reasons_text)) else "按期还款"
    return "；".join(rule_phrase(f.get("rule", ""), f.get("facts") or {}, f.get("floor")) for f in findings)


def signal_phrase(signal: str) -> str:
    phrase, reference = SIGNALS.get(signal, ("其他预警信号", WARNING_POLICY))
    return f"{phrase}（{reference}）"


def severity_phrase(severity: str) -> str:
    return SEVERITIES.get(str(severity), "—")


def quarantine_phrase(reason_code: str | None, reason: str | None = None) -> str:
    """Why a file was quarantined, for the reader (the English reason with its shell advice stays in the
    catalog and the workbook)."""
    if reason_code in QUARANTINE:
        return QUARANTINE[reason_code]
    if reason and not re.search(r"[A-Za-z]", str(reason)):  # already the reader's language
        return str(reason)
    text = str(reason or "").lower()
    for code, phrase in QUARANTINE.items():
        if code.replace("_", " ") in text or code in text:
            return phrase
    for words, code in (("encrypt", "encrypted"), ("password", "encrypted"), ("image", "image_only"),
                        ("not a pdf", "not_pdf"), ("too large", "oversized"), ("pages", "oversized"),
                        ("damaged", "corrupt"), ("cannot be opened", "corrupt"), ("declared", "mislabelled"),
                        ("javascript", "active_content")):
        if words in text:
            return QUARANTINE[code]
    return "文件未通过入库检查：请送件方核对后重新提供"


# access.yaml roles as the reader knows them
ROLES: dict[str, str] = {"risk_officer": "风险管理岗", "regulatory_reporting": "监管报送岗", "data_engineer": "数据运维岗",
                         "auditor": "审计岗", "pipeline": "系统"}


def role_phrase(role: str | None) -> str:
    return ROLES.get(str(role), "审批岗")


def status_phrase(value: Any) -> str:
    return STATUS.get(str(value), str(value))


def chinese_text(text: Any) -> str:
    """Free text made safe for the reader: cent amounts as 元, known codes as their phrases, any other code
    (snake_case) and `key=value` pairs removed."""
    if text is None or (isinstance(text, float) and text != text):
        return ""
    out = _CENTS.sub(lambda m: f"{FACTS.get(m.group('name'), '金额') if m.group('name') else '金额'} "
                               f"{yuan_text(m.group('value'))}", str(text))

    def pair(m: re.Match) -> str:
        key, value = m.group(1), m.group(2).strip()
        if key in TIER_FIELDS and value.isdigit() and int(value) in TIERS:
            return f"{FACTS[key]} {TIERS[int(value)]}"
        if key in FACTS:
            return f"{FACTS[key]} {STATUS.get(value, value)}"
        if key in RULE_NAMES:  # credit_impaired=true
            return RULE_NAMES[key] + ("" if value.lower() in ("true", "1") else f" {STATUS.get(value, value)}")
        return ""  # a field the reader has no name for is left out, not shown as a code

    out = re.sub(r"(?<![A-Za-z0-9_])([a-z][a-z0-9_]*)\s*=\s*([^,;，；)）]*)", pair, out)
    names = {**RULE_NAMES, **{code: phrase for code, (phrase, _) in SIGNALS.items()}}
    for code, name in sorted(names.items(), key=lambda kv: -len(kv[0])):
        out = re.sub(rf"(?<![A-Za-z0-9_]){re.escape(code)}(?![A-Za-z0-9_])", name, out)
    out = _CODE.sub("", out)
    out = re.sub(r"\b(True|False|true|false)\b", lambda m: STATUS[m.group(1).capitalize()], out)
    out = re.sub(r"(\s*[,，]\s*){2,}", ", ", out)  # separators left by removed fields
    out = re.sub(r"(\s*[,，]\s*)+(?=[)）;；]|$)", "", out)
    out = re.sub(r"([(（])\s*[,，]\s*", r"\1", out)
    out = re.sub(r"[(（]\s*[)）]", "", out)
    return re.sub(r"\s{2,}", " ", out).strip(" ,;，；")


def codes_in(text: str, codes: set[str] | None = None) -> list[str]:
    """The rule and signal codes (or `codes`) that appear in `text` (for tests and checks of the PDF)."""
    known = codes if codes is not None else set(RULES) | set(SIGNALS)
    return sorted(c for c in known if re.search(rf"(?<![A-Za-z_]){re.escape(c)}(?![A-Za-z_])", text))
