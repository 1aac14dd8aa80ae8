"""Render the lender's documents (contracts, financial statements, bad files) as PDFs.

Output is deterministic: reportlab runs with invariant=1 (fixed dates and IDs),
so the same spec always gives the same bytes and archive hashes stay stable.
"""
from __future__ import annotations

import hashlib
import io
import zipfile
from collections.abc import Callable
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from reportlab.lib.pagesizes import A4, landscape
from reportlab.lib.utils import ImageReader
from reportlab.pdfbase.pdfmetrics import stringWidth
from reportlab.pdfgen.canvas import Canvas

from .fonts import cjk_font_path, register_cjk_font
from .statements import ChartOfAccounts, load_chart_of_accounts

CENT = Decimal("0.01")
WAN = Decimal(10000)
CURRENCY_NAMES = {"CNY": "人民币", "USD": "美元", "EUR": "欧元", "HKD": "港币", "JPY": "日元"}
_DIGITS = "零壹贰叁肆伍陆柒捌玖"


# --------------------------------------------------------------------------- formatting
def amount_in_chinese(amount: Decimal | str) -> str:
    """Chinese uppercase (大写) amount as written on contracts, e.g. 壹佰万元整."""
    value = Decimal(amount).quantize(CENT, ROUND_HALF_UP)
    sign, value = ("负" if value < 0 else ""), abs(value)
    yuan, cents = divmod(int(value * 100), 100)
    jiao, fen = divmod(cents, 10)
    text = _integer_in_chinese(yuan) + "元" if yuan or not cents else ""
    if not cents:
        return sign + text + "整"
    if jiao:
        text += _DIGITS[jiao] + "角"
    if fen:
        text += ("零" if yuan and not jiao else "") + _DIGITS[fen] + "分"
    return sign + text


def _integer_in_chinese(n: int) -> str:
    if n == 0:
        return "零"
    groups: list[int] = []
    while n:
        n, g = divmod(n, 10000)
        groups.append(g)
    out, pending_zero = "", False
    for i in reversed(range(len(groups))):
        g = groups[i]
        if g == 0:
            pending_zero = bool(out)
            continue
        if out and (g < 1000 or pending_zero):
            out += "零"
        out += _group_in_chinese(g) + ("", "万", "亿", "万亿")[i]
        pending_zero = False
    return out


def _group_in_chinese(g: int) -> str:
    out, zero = "", False
    for pos in (3, 2, 1, 0):
        d = g // 10**pos % 10
        if d == 0:
            zero = bool(out)
            continue
        out += ("零" if zero else "") + _DIGITS[d] + ("", "拾", "佰", "仟")[pos]
        zero = False
    return out


def format_money(value: Decimal, negative_style: str = "minus") -> str:
    """1,234.50 with a leading minus or (parentheses) for negatives."""
    text = f"{abs(value):,.2f}"
    if value < 0:
        return f"({text})" if negative_style == "parentheses" else f"-{text}"
    return text


def format_rate(rate: Decimal | str) -> str:
    """Annual rate as a percentage with at least two decimals: 0.0435 -> 4.35%."""
    pct = Decimal(rate) * 100
    text = f"{pct:.2f}" if pct == pct.quantize(CENT) else format(pct.normalize(), "f")
    return text + "%"


def cn_date(value: str | date) -> str:
    d = date.fromisoformat(value) if isinstance(value, str) else value
    return f"{d.year}年{d.month}月{d.day}日"


# --------------------------------------------------------------------------- entry point
def render_document(spec: dict[str, Any]) -> bytes:
    """PDF (or, for bad specs, deliberately broken) bytes for one document spec."""
    kind = spec.get("kind")
    if kind in ("loan_contract", "lease_contract"):
        return render_contract(kind, spec["terms"])
    if kind == "financial_statement":
        return render_statement(spec["statement"])
    if kind == "bad":
        return render_bad(spec)
    raise ValueError(f"unknown document kind {kind!r}")


def _canvas(buf: io.BytesIO, title: str, author: str, pagesize: tuple[float, float] = A4) -> Canvas:
    canvas = Canvas(buf, pagesize=pagesize, invariant=1, pageCompression=1)
    canvas.setTitle(title)
    canvas.setAuthor(author)
    canvas.setCreator("postloan")
    return canvas


# --------------------------------------------------------------------------- contracts
def _break_point(current: str, nxt: str) -> int:
    """Where to break `current` so no space touches the break: pdfplumber drops a space at a
    line end or start, and the extractor must rejoin wrapped values exactly."""
    cut = len(current)
    following = nxt
    while cut > 1 and (current[cut - 1] == " " or following == " "):
        cut -= 1
        following = current[cut]
    return cut


class _Flow:
    """A top-to-bottom text cursor over pages; wraps CJK text at any character."""

    def __init__(self, canvas: Canvas, font: str, margin: float = 72.0) -> None:
        self.c, self.font = canvas, font
        self.width, self.height = canvas._pagesize
        self.left, self.right, self.bottom = margin, self.width - margin, 72.0
        self.page = 1
        self.y = self.height - margin

    def _ensure(self, needed: float) -> None:
        if self.y - needed < self.bottom:
            self._footer()
            self.c.showPage()
            self.page += 1
            self.y = self.height - 72.0

    def _footer(self) -> None:
        self.c.setFont(self.font, 9)
        self.c.drawCentredString(self.width / 2, 40, f"第 {self.page} 页")

    def finish(self) -> None:
        self._footer()
        self.c.showPage()

    def wrap(self, text: str, size: float, width: float) -> list[str]:
        lines, current = [], ""
        for ch in text:
            if current and stringWidth(current + ch, self.font, size) > width:
                cut = _break_point(current, ch)
                lines.append(current[:cut])
                current = current[cut:]
            current += ch
        return [*lines, current] if current else lines or [""]

    def centred(self, text: str, size: float, gap: float) -> None:
        self._ensure(size + gap)
        self.y -= size
        self.c.setFont(self.font, size)
        self.c.drawCentredString(self.width / 2, self.y, text)
        self.y -= gap

    def field(self, label: str, value: str, size: float = 10.5, indent: float = 0.0) -> None:
        """'label：value' with the value's continuation lines hanging under the value."""
        head = f"{label}："
        x_value = self.left + indent + stringWidth(head, self.font, size)
        lines = self.wrap(value, size, self.right - x_value)
        self._ensure(len(lines) * size * 1.8)
        self.c.setFont(self.font, size)
        self.c.drawString(self.left + indent, self.y - size, head)
        for line in lines:
            self.y -= size
            self.c.drawString(x_value, self.y, line)
            self.y -= size * 0.8

    def para(self, text: str, size: float = 10.5, indent_chars: int = 2) -> None:
        lines = self.wrap("\u3000" * indent_chars + text, size, self.right - self.left)
        for line in lines:
            self._ensure(size * 1.8)
            self.y -= size
            self.c.setFont(self.font, size)
            self.c.drawString(self.left, self.y, line)
            self.y -= size * 0.8
        self.y -= size * 0.3

    def heading(self, text: str, size: float = 11.5) -> None:
        self._ensure(size * 4)
        self.y -= size * 0.6
        self.para(text, size, indent_chars=0)


_LOAN_CLAUSES = [
    "第七条 借款人的权利和义务",
    "借款人应按照本合同约定的用途使用借款，不得挪作他用，不得用于股本权益性投资、"
    "证券、期货、理财产品或房地产投机，不得以任何方式套取信贷资金。借款人应配合贷款人对借款使用情况的检查，"
    "按月提供资金使用凭证，并按季度向贷款人报送资产负债表、利润表及现金流量表。",
    "借款人发生合并、分立、减资、股权变更、重大资产转让、停产、歇业、被吊销营业执照、涉及重大诉讼或仲裁等事项的，"
    "应于事项发生之日起五个工作日内书面通知贷款人，并落实贷款人认可的还款保障措施。",
    "第八条 贷款人的权利和义务",
    "贷款人有权了解借款人的生产经营和财务活动，有权对借款的使用情况进行贷后检查和监督。"
    "贷款人应按照本合同的约定按期足额发放贷款，并对借款人提供的资料依法保密。",
    "第九条 逾期与罚息",
    "借款人未按期归还借款本金的，贷款人有权自逾期之日起按照本合同约定利率加收百分之五十计收罚息；"
    "借款人未按约定用途使用借款的，贷款人有权对挪用部分自挪用之日起按照本合同约定利率加收百分之百计收罚息；"
    "对应付未付的利息，贷款人有权按照罚息利率计收复利。",
    "第十条 违约责任",
    "借款人违反本合同任一约定，或其提供的资料存在虚假、重大遗漏，或其财务状况恶化、信用状况下降，"
    "或保证人、抵押人丧失担保能力而借款人未能提供新的担保的，贷款人有权停止发放尚未发放的借款，"
    "宣布已发放的借款全部提前到期，并依法处分担保财产。",
    "第十一条 争议解决",
    "本合同履行中发生的争议，由双方协商解决；协商不成的，任何一方均可向贷款人所在地有管辖权的人民法院提起诉讼。"
    "在诉讼期间，本合同不涉及争议的条款仍须履行。",
    "第十二条 合同的生效",
    "本合同自各方法定代表人（负责人）或授权代理人签字或盖章并加盖公章之日起生效，至本合同项下借款本息及其他"
    "一切费用全部清偿之日终止。本合同一式三份，各方各执一份，具有同等法律效力。",
]

_LEASE_CLAUSES = [
    "第七条 租赁物的交付、使用和保管",
    "租赁物由出卖人直接向承租人交付，承租人应于收到租赁物后三个工作日内向出租人出具租赁物接收证书。"
    "租赁期内，承租人应按照租赁物的性能和用途合理使用，负责租赁物的维修、保养，并承担相应费用。"
    "未经出租人书面同意，承租人不得转让、转租、抵押租赁物或以其他任何方式处分租赁物。",
    "第八条 租赁物的所有权与保险",
    "租赁期内租赁物的所有权属于出租人。承租人应以出租人为第一受益人为租赁物投保财产一切险，"
    "保险期间不短于租赁期间。租赁物发生毁损、灭失的，承租人仍应按期足额支付租金。",
    "第九条 贷后检查",
    "出租人有权随时检查租赁物的使用、维护及保险情况，承租人应予以配合，并按季度向出租人报送资产负债表、"
    "利润表及现金流量表及其他经营资料。",
    "第十条 违约责任",
    "承租人逾期支付租金的，应按逾期金额每日万分之五向出租人支付违约金；逾期超过三十日或累计逾期两期的，"
    "出租人有权宣布全部未付租金提前到期，并有权取回租赁物。",
    "第十一条 租赁期满租赁物的处理",
    "租赁期满且承租人付清全部租金及其他应付款项后，承租人以名义货价人民币壹佰元整留购租赁物，"
    "租赁物的所有权自出租人收到名义货价之日起转移至承租人。",
    "第十二条 争议解决与合同生效",
    "本合同履行中发生的争议，由各方协商解决；协商不成的，向出租人所在地有管辖权的人民法院提起诉讼。"
    "本合同自各方签字盖章之日起生效，一式三份，各方各执一份，具有同等法律效力。",
]


def render_contract(kind: str, terms: dict[str, Any]) -> bytes:
    """A 2-3 page 借款合同 (loan_contract) or 融资租赁合同 (lease_contract)."""
    font = register_cjk_font()
    buf = io.BytesIO()
    canvas = _canvas(buf, str(terms["contract_id"]), str(terms["lender"]))
    flow = _Flow(canvas, font)
    lease = kind == "lease_contract"
    _contract_header(flow, terms, lease)
    _contract_terms(flow, terms, lease)
    for text in _LEASE_CLAUSES if lease else _LOAN_CLAUSES:
        flow.heading(text) if text.startswith("第") and len(text) < 20 else flow.para(text)
    _signature_block(flow, terms, lease)
    flow.finish()
    canvas.save()
    return buf.getvalue()


def _contract_header(flow: _Flow, terms: dict[str, Any], lease: bool) -> None:
    flow.centred("融资租赁合同" if lease else "借款合同", 20, 14)
    flow.field("合同编号", str(terms["contract_id"]))
    flow.y -= 6
    flow.field("出租人（甲方）" if lease else "贷款人（甲方）", terms["lender"])
    flow.field("承租人（乙方）" if lease else "借款人（乙方）", terms["borrower_name"])
    flow.field("证件号码", str(terms.get("borrower_id_number") or "—"))
    guarantors = terms.get("guarantors") or []
    flow.field("保证人（丙方）", "、".join(guarantors) if guarantors else "无")
    flow.y -= 4
    party = "承租人" if lease else "借款人"
    flow.para(
        f"根据《中华人民共和国民法典》及相关法律法规，{party}向甲方申请"
        + ("办理融资租赁业务" if lease else "借款")
        + "，各方经平等协商，就有关事项达成如下协议，以资共同遵守。"
    )


def _contract_terms(flow: _Flow, terms: dict[str, Any], lease: bool) -> None:
    noun = "融资本金" if lease else "借款金额"
    principal = Decimal(str(terms["principal"]))
    currency = str(terms.get("currency") or "CNY")
    currency_name = CURRENCY_NAMES.get(currency, currency)
    flow.heading("第一条 " + ("融资本金与币种" if lease else "借款金额与币种"))
    flow.field("币种", f"{currency_name}（{currency}）", indent=21)
    flow.field(f"{noun}（小写）", f"{currency_name}{format_money(principal)}元", indent=21)
    flow.field(f"{noun}（大写）", f"{currency_name}{amount_in_chinese(principal)}", indent=21)
    flow.heading("第二条 " + ("租赁物与用途" if lease else "借款用途"))
    if lease:
        flow.field("租赁物", str(terms.get("leased_asset") or "无"), indent=21)
    flow.field("租赁用途" if lease else "借款用途", str(terms.get("purpose") or "—"), indent=21)
    flow.heading("第三条 " + ("租赁期限" if lease else "借款期限"))
    flow.field("期限", f"{int(terms['term_months'])}个月", indent=21)
    flow.field(
        "起止日期", f"自{cn_date(terms['start_date'])}起至{cn_date(terms['maturity_date'])}止", indent=21
    )
    flow.heading("第四条 " + ("租赁利率" if lease else "借款利率"))
    _rate_fields(flow, terms)
    flow.heading("第五条 " + ("租金支付方式" if lease else "还款方式"))
    flow.field("还款方式", str(terms.get("repayment_method") or "—"), indent=21)
    flow.heading("第六条 担保")
    guarantors = terms.get("guarantors") or []
    flow.field("保证方式", "连带责任保证" if guarantors else "无", indent=21)
    flow.field("抵押物", str(terms.get("collateral") or "无"), indent=21)


def _rate_fields(flow: _Flow, terms: dict[str, Any]) -> None:
    rate = terms.get("annual_rate")
    if terms.get("rate_type") == "lpr_spread":
        bp = int(terms.get("lpr_spread_bp") or 0)
        sign = "加" if bp >= 0 else "减"
        flow.field("利率方式", f"浮动利率，LPR{sign}{abs(bp)}个基点", indent=21)
        flow.para("利率以一年期贷款市场报价利率（LPR）为基准，每年1月1日按最近一期LPR调整。")
        if rate is not None:
            flow.field("签约时执行年利率", format_rate(rate), indent=21)
    else:
        flow.field("利率方式", "固定利率", indent=21)
        if rate is not None:
            flow.field("年利率", format_rate(rate), indent=21)


def _signature_block(flow: _Flow, terms: dict[str, Any], lease: bool) -> None:
    flow._ensure(200)
    flow.y -= 20
    flow.para("（以下无正文，为签署页）", indent_chars=0)
    flow.y -= 10
    parties = [("甲方（盖章）", terms["lender"]), ("乙方（盖章）", terms["borrower_name"])]
    parties += [("丙方（签章）", g) for g in terms.get("guarantors") or []]
    for role, name in parties:
        flow.para(f"{role}：{name}", indent_chars=0)
        flow.para("法定代表人或授权代理人（签字）：", indent_chars=0)
        flow.y -= 8
    flow.field("签订日期", cn_date(terms["signing_date"]))


# --------------------------------------------------------------------------- statements
_HEADINGS = {
    "cash": "流动资产：",
    "fixed_assets": "非流动资产：",
    "short_term_borrowings": "流动负债：",
    "long_term_borrowings": "非流动负债：",
    "paid_in_capital": "所有者权益（或股东权益）：",
    "net_operating_cash_flow": "一、经营活动产生的现金流量：",
    "net_investing_cash_flow": "二、投资活动产生的现金流量：",
    "net_financing_cash_flow": "三、筹资活动产生的现金流量：",
}
_PREFIXES = {
    "revenue": "一、", "operating_cost": "减：", "operating_profit": "二、",
    "total_profit": "三、", "income_tax": "减：", "net_profit": "四、", "net_increase_in_cash": "四、",
}
_INDENT = {"interest_expense": 2, "selling_expenses": 1, "admin_expenses": 1, "financial_expenses": 1}
_B_USES_SYNONYM = ("total_assets", "equity", "total_liabilities_and_equity")
_TITLES = {"balance_sheet": "资产负债表", "income_statement": "利润表", "cash_flow": "现金流量表"}
_FORMS = {"balance_sheet": "会企01表", "income_statement": "会企02表", "cash_flow": "会企03表"}

Row = tuple[str, int, str | None, str | None, int | None]  # label, indent, current, prior, 行次


def render_statement(statement: dict[str, Any], chart: ChartOfAccounts | None = None) -> bytes:
    """资产负债表, 利润表 and 现金流量表 in layout A (a page each) or B (T-account, shared page)."""
    chart = chart or _default_chart()
    font = register_cjk_font()
    layout = statement.get("layout", "A")
    unit = statement.get("unit", "元")
    style = statement.get("negative_style") or ("parentheses" if layout == "B" else "minus")
    cells = _cells(statement["items"], unit, style, chart)
    buf = io.BytesIO()
    page = A4 if layout == "A" else landscape(A4)
    canvas = _canvas(buf, f"{statement['borrower_name']} {statement['period_end']}", statement["borrower_name"], page)
    header = _Header(statement["borrower_name"], date.fromisoformat(statement["period_end"]), unit)
    if layout == "A":
        for name in ("balance_sheet", "income_statement", "cash_flow"):
            _layout_a_page(canvas, font, name, _rows_for(name, cells, chart, "A"), header)
    elif layout == "B":
        _layout_b_pages(canvas, font, cells, chart, header)
    else:
        raise ValueError(f"unknown statement layout {layout!r}")
    canvas.save()
    return buf.getvalue()


_CHART: list[ChartOfAccounts] = []


def _default_chart() -> ChartOfAccounts:
    if not _CHART:  # parse the YAML once per process
        _CHART.append(load_chart_of_accounts())
    return _CHART[0]


class _Header:
    def __init__(self, entity: str, period_end: date, unit: str) -> None:
        self.entity, self.period_end, self.unit = entity, period_end, unit

    def period(self, statement: str) -> str:
        d = self.period_end
        if statement == "balance_sheet":
            return cn_date(d)
        return f"{d.year}年度" if d.month == 12 else f"{d.year}年1-{d.month}月"


def _cells(items: dict[str, Any], unit: str, style: str, chart: ChartOfAccounts) -> dict[str, tuple[str | None, str | None]]:
    """canonical key -> printed (current, prior), scaled to the unit and rounded half-up."""
    unknown = set(items) - set(chart.accounts)
    if unknown:
        raise ValueError(f"statement items not in the chart of accounts: {sorted(unknown)}")
    divisor = WAN if unit == "万元" else Decimal(1)

    def fmt(raw: Any) -> str | None:
        if raw is None or raw == "":
            return None
        return format_money((Decimal(str(raw)) / divisor).quantize(CENT, ROUND_HALF_UP), style)

    out = {}
    for key, values in items.items():
        values = list(values) + [None, None]
        out[key] = (fmt(values[0]), fmt(values[1]))
    return out


def _rows_for(statement: str, cells: dict, chart: ChartOfAccounts, layout: str, side: str | None = None) -> list[Row]:
    rows: list[Row] = []
    line_no = 1 if side != "liabilities_and_equity" else 31
    for key in chart.keys_for(statement):
        acc = chart.accounts[key]
        if side is not None and acc.side != side:
            continue
        if key in _HEADINGS:
            rows.append((_HEADINGS[key], 0, None, None, None))
        if key not in cells:
            continue
        label = acc.synonyms[0] if layout == "B" and key in _B_USES_SYNONYM else acc.label
        current, prior = cells[key]
        rows.append((_PREFIXES.get(key, "") + label, _INDENT.get(key, 1 if key not in _PREFIXES else 0), current, prior, line_no))
        line_no += 1
    return rows


def _column_titles(statement: str, layout: str) -> tuple[str, str]:
    if statement == "balance_sheet":
        return "期末余额", "年初余额"
    return ("本期金额", "上期金额") if layout == "A" else ("本年累计金额", "上年同期金额")


def _statement_heading(canvas: Canvas, font: str, statement: str, header: _Header, top: float, size: float) -> float:
    """Title, form number and the 编制单位 / period / unit line; returns the y below them."""
    width = canvas._pagesize[0]
    canvas.setFont(font, size)
    canvas.drawCentredString(width / 2, top - size, _TITLES[statement])
    canvas.setFont(font, 9)
    canvas.drawRightString(width - 40, top - size, _FORMS[statement])
    y = top - size - 22
    canvas.drawString(40, y, f"编制单位：{header.entity}")
    canvas.drawCentredString(width / 2, y, header.period(statement))
    canvas.drawRightString(width - 40, y, f"单位：{header.unit}")
    return y - 8


def _table(
    canvas: Canvas, font: str, x: float, y: float, columns: list[float], head: list[str],
    rows: list[Row], size: float, row_h: float, line_numbers: bool,
) -> float:
    """Grid table: label | [行次] | current | prior. Returns the y of its bottom edge."""
    body = [[r[0], str(r[4]) if line_numbers and r[4] else "", r[2] or "", r[3] or ""] for r in rows]
    if not line_numbers:
        body = [[b[0], b[2], b[3]] for b in body]
    edges = [x]
    for w in columns:
        edges.append(edges[-1] + w)
    canvas.setLineWidth(0.5)
    all_rows = [head] + body
    for i, cells in enumerate(all_rows):
        top = y - i * row_h
        canvas.line(edges[0], top, edges[-1], top)
        base = top - row_h + (row_h - size) / 2 + 1.5
        canvas.setFont(font, size)
        for j, text in enumerate(cells):
            if i == 0:
                canvas.drawCentredString((edges[j] + edges[j + 1]) / 2, base, text)
            elif j == 0:
                indent = rows[i - 1][1] * size
                canvas.drawString(edges[0] + 4 + indent, base, text)
            elif line_numbers and j == 1:
                canvas.drawCentredString((edges[1] + edges[2]) / 2, base, text)
            else:
                canvas.drawRightString(edges[j + 1] - 4, base, text)
    bottom = y - len(all_rows) * row_h
    canvas.line(edges[0], bottom, edges[-1], bottom)
    for e in edges:
        canvas.line(e, y, e, bottom)
    return bottom


def _layout_a_page(canvas: Canvas, font: str, statement: str, rows: list[Row], header: _Header) -> None:
    if statement == "balance_sheet":
        split = rows.index((_HEADINGS["short_term_borrowings"], 0, None, None, None))
        rows = [("资产：", 0, None, None, None), *rows[:split],
                ("负债和所有者权益（或股东权益）：", 0, None, None, None), *rows[split:]]
    y = _statement_heading(canvas, font, statement, header, 800, 18)
    _table(canvas, font, 40, y, [255, 130, 130], ["项目", *_column_titles(statement, "A")], rows, 10, 19, False)
    canvas.setFont(font, 9)
    canvas.drawString(40, 50, "单位负责人：            会计机构负责人：            制表人：")
    canvas.showPage()


def _layout_b_pages(canvas: Canvas, font: str, cells: dict, chart: ChartOfAccounts, header: _Header) -> None:
    # page 1: the balance sheet as a T-account, assets left, liabilities and equity right
    y = _statement_heading(canvas, font, "balance_sheet", header, 560, 15)
    cols = [170, 28, 95, 95]
    cur, prior = _column_titles("balance_sheet", "B")
    left = _rows_for("balance_sheet", cells, chart, "B", "assets")
    right = _rows_for("balance_sheet", cells, chart, "B", "liabilities_and_equity")
    left += [("", 0, None, None, None)] * (len(right) - len(left))
    _table(canvas, font, 36, y, cols, ["资产", "行次", cur, prior], left, 8.5, 16, True)
    _table(canvas, font, 36 + sum(cols), y, cols, ["负债和所有者权益", "行次", cur, prior], right, 8.5, 16, True)
    canvas.showPage()
    # page 2: the income statement and the cash-flow statement share a page
    y = 565.0
    for name in ("income_statement", "cash_flow"):
        y = _statement_heading(canvas, font, name, header, y, 13)
        rows = _rows_for(name, cells, chart, "B")
        y = _table(canvas, font, 120, y, [300, 36, 133, 133], ["项目", "行次", *_column_titles(name, "B")], rows, 9, 15, True)
        y -= 14
    canvas.showPage()


# --------------------------------------------------------------------------- bad files
_PLACEHOLDER_TERMS: dict[str, Any] = {
    "contract_id": "HT-0000-0000", "lender": "示例金融租赁有限公司", "borrower_name": "示例借款人有限公司",
    "borrower_id_number": "91000000000000000X", "guarantors": [], "principal": "1000000.00",
    "currency": "CNY", "annual_rate": "0.0500", "rate_type": "fixed", "lpr_spread_bp": None,
    "term_months": 12, "start_date": "2024-01-01", "maturity_date": "2024-12-31",
    "repayment_method": "按月付息，到期还本", "collateral": None, "leased_asset": None,
    "purpose": "补充流动资金", "signing_date": "2023-12-28",
}


def render_bad(spec: dict[str, Any]) -> bytes:
    """Deliberately defective documents, to exercise triage."""
    builders: dict[str, Callable[[dict[str, Any]], bytes]] = {
        "corrupt": _corrupt, "encrypted": _encrypted, "image_only": _image_only,
        "not_pdf": _not_pdf, "mislabelled": _genuine_contract,
    }
    defect = spec.get("defect")
    if defect not in builders:
        raise ValueError(f"unknown defect {defect!r}")
    return builders[defect](spec)


def _genuine_contract(spec: dict[str, Any]) -> bytes:
    terms = {**_PLACEHOLDER_TERMS, **(spec.get("terms") or {})}
    kind = spec.get("contract_kind") or ("lease_contract" if terms.get("leased_asset") else "loan_contract")
    return render_contract(kind, terms)


def _corrupt(spec: dict[str, Any]) -> bytes:
    """A PDF cut off a third of the way in, followed by garbage: no xref, no trailer."""
    good = _genuine_contract(spec)
    noise = hashlib.sha256(good).digest() * 64
    return good[: len(good) // 3] + noise


def encrypt_pdf(data: bytes, user_password: str, owner_password: str) -> bytes:
    """Encrypt a PDF with pypdf (RC4-128: deterministic, unlike AES with its random IVs)."""
    from pypdf import PdfReader, PdfWriter
    from pypdf.generic import ArrayObject

    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(data)))
    writer.encrypt(user_password=user_password, owner_password=owner_password, algorithm="RC4-128")
    # pypdf draws a random second file ID; the key uses only the first (reportlab's fixed
    # one), so pin the second to it for byte-identical output.
    writer._ID = ArrayObject([writer._ID[0], writer._ID[0]])
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def _encrypted(spec: dict[str, Any]) -> bytes:
    good = _genuine_contract(spec)
    secret = hashlib.sha256(good).hexdigest()[:12]
    return encrypt_pdf(good, user_password=secret, owner_password=secret + "-owner")


def _image_only(spec: dict[str, Any]) -> bytes:
    """A 'scan': the contract's first lines drawn into a raster image, no text layer."""
    from PIL import Image, ImageDraw, ImageFont

    terms = {**_PLACEHOLDER_TERMS, **(spec.get("terms") or {})}
    lines = [
        "借款合同", f"合同编号：{terms['contract_id']}", f"贷款人（甲方）：{terms['lender']}",
        f"借款人（乙方）：{terms['borrower_name']}",
        f"借款金额（小写）：人民币{format_money(Decimal(str(terms['principal'])))}元",
        f"借款期限：{terms['term_months']}个月", "（扫描件）",
    ]
    image = Image.new("L", (1240, 1754), 255)  # A4 at 150 dpi
    draw = ImageDraw.Draw(image)
    font = ImageFont.truetype(str(cjk_font_path()), 34)
    for i, line in enumerate(lines):
        draw.text((150, 180 + i * 70), line, fill=0, font=font)
    buf = io.BytesIO()
    canvas = _canvas(buf, "scan", "scanner")
    canvas.drawImage(ImageReader(image), 0, 0, width=A4[0], height=A4[1])
    canvas.showPage()
    canvas.save()
    return buf.getvalue()


def _not_pdf(spec: dict[str, Any]) -> bytes:
    """An HTML error page (default) or a small zip, delivered under a .pdf name."""
    if spec.get("format") == "zip":
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
            info = zipfile.ZipInfo("statement.csv", date_time=(2024, 1, 1, 0, 0, 0))
            zf.writestr(info, "item,current,prior\ncash,1.00,2.00\n")
        return buf.getvalue()
    return (
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>404 Not Found</title></head>"
        "<body><h1>文件不存在</h1><p>The requested document could not be found.</p></body></html>\n"
    ).encode("utf-8")
