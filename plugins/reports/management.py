"""Monthly post-loan management report (贷后管理月度报告) as a designed A4 PDF.

``management_sections`` computes the report's tables (reusable for an Excel
pack); ``render_management_pdf`` lays them out with reportlab and a matplotlib
chart. Ratios in ``pack["summary"]`` are fractions (0.05 = 5%). Money is summed
in yuan as Decimal and converted to 万元 once (ROUND_HALF_UP, 2 decimals).
Borrower names are masked everywhere in the output, including free text.

Determinism: reportlab invariant mode plus a creation date taken from the
report date; charts are PNGs rendered by Agg under fixed rcParams with the
PNG 'Software' metadata removed.
"""

from __future__ import annotations

import io
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Callable

import matplotlib
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from reportlab.lib import colors
from reportlab.lib.enums import TA_CENTER, TA_RIGHT
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import (
    BaseDocTemplate,
    Frame,
    HRFlowable,
    Image,
    KeepTogether,
    PageTemplate,
    Paragraph,
    Spacer,
    Table,
    TableStyle,
)

from plugins.reports.determinism import pdf_date_string
from plugins.reports.fonts import chart_font, register_pdf_font
from plugins.reports.g11 import TIER_NAMES, to_decimal, yuan_to_wan

DETAIL_ROWS_MAX = 30
TOP_N = 10
TIER_COLOURS = {1: "#2E7D32", 2: "#F9A825", 3: "#EF6C00", 4: "#C62828", 5: "#6D1B1B"}
# (label, DPD range text, lower bound inclusive, upper bound inclusive or None)
AGEING_BUCKETS = [
    ("M0", "未逾期", 0, 0),
    ("M1", "1–30天", 1, 30),
    ("M2", "31–60天", 31, 60),
    ("M3", "61–90天", 61, 90),
    ("M4", "91–120天", 91, 120),
    ("M5", "121–150天", 121, 150),
    ("M6", "151–180天", 151, 180),
    ("M6+", "180天以上", 181, None),
]
COMPANY_SUFFIXES = sorted(
    ["股份有限公司", "有限责任公司", "有限公司", "合伙企业（有限合伙）", "有限合伙", "合作社", "集团", "公司", "厂", "中心"],
    key=len,
    reverse=True,
)
NAVY = colors.HexColor("#1F3B5C")
PASS_COLOUR = "#2E7D32"
FAIL_COLOUR = "#C62828"


# --------------------------------------------------------------------------- formatting


def mask_name(name: str, kind: str | None = None) -> str:
    """Mask a borrower name: 江苏恒达机械有限公司 → 江苏****有限公司, 张三 → 张*."""
    name = str(name or "").strip()
    if not name:
        return ""
    suffix = next((s for s in COMPANY_SUFFIXES if name.endswith(s) and len(name) > len(s)), "")
    if kind == "individual" or (kind is None and not suffix and len(name) <= 4):
        return name[0] + "*" * max(len(name) - 1, 1)
    return name[:2] + "****" + suffix


def _scrubber(book: pd.DataFrame) -> dict[str, str]:
    """Full name → masked name, for cleaning free text (reasons, file names)."""
    pairs = {
        str(n): mask_name(n, k)
        for n, k in zip(book["borrower_name"], book["borrower_kind"])
        if isinstance(n, str) and n.strip()
    }
    return dict(sorted(pairs.items(), key=lambda p: (-len(p[0]), p[0])))  # longest first


def scrub(text: Any, names: dict[str, str]) -> str:
    text = "" if text is None or (isinstance(text, float) and text != text) else str(text)
    for full, masked in names.items():
        text = text.replace(full, masked)
    return text


def pct(fraction: Decimal | None) -> str:
    if fraction is None:
        return "—"
    return f"{(to_decimal(fraction) * 100).quantize(Decimal('0.01'), ROUND_HALF_UP)}%"


def share(part: Decimal, whole: Decimal) -> Decimal | None:
    """Share as a percentage with two decimals (12.34 means 12.34%)."""
    if not whole:
        return None
    return (part * 100 / whole).quantize(Decimal("0.01"), ROUND_HALF_UP)


def money(value: Decimal) -> str:
    return f"{value:,.2f}"


def _yuan(series: pd.Series) -> Decimal:
    return sum((to_decimal(v) for v in series), Decimal("0.00"))


# --------------------------------------------------------------------------- sections


def _ratio_row(label: str, value: Decimal | None, limit: Decimal, is_max: bool) -> tuple[str, str, str, str]:
    """One ratio with its threshold and a 达标/未达标 mark; an undefined ratio (no loans/NPLs) is 不适用."""
    if value is None:
        return label, "—", f"{'≤' if is_max else '≥'} {pct(limit)}", "不适用"
    ok = to_decimal(value) <= to_decimal(limit) if is_max else to_decimal(value) >= to_decimal(limit)
    return label, pct(value), f"{'≤' if is_max else '≥'} {pct(limit)}", "达标" if ok else "未达标"


def _key_figures(pack: dict) -> pd.DataFrame:
    book, s = pack["book"], pack["summary"]
    th = s["thresholds"]
    npl = book[book["tier"].astype(int) >= 3]
    rows = [
        ("贷款笔数", f"{int(s['loans']):,}", "—", ""),
        ("贷款余额（万元）", money(yuan_to_wan(to_decimal(s["balance"]))), "—", ""),
        ("不良贷款余额（万元）", money(yuan_to_wan(_yuan(npl["balance"]))), "—", ""),
        ("贷款损失准备（万元）", money(yuan_to_wan(_yuan(book["regulatory_provision"]))), "—", ""),
        _ratio_row("不良贷款率", s.get("npl_ratio"), th["npl_ratio_max"], is_max=True),
        _ratio_row("拨备覆盖率", s.get("provision_coverage"), th["provision_coverage_min"], is_max=False),
        _ratio_row("贷款拨备率", s.get("loan_provision_ratio"), th["loan_provision_ratio_min"], is_max=False),
    ]
    return pd.DataFrame(rows, columns=["指标", "本期值", "阈值", "评价"])


def _tier_distribution(book: pd.DataFrame) -> pd.DataFrame:
    total = _yuan(book["balance"])
    tiers = book["tier"].astype(int)
    rows = []
    for tier, name in TIER_NAMES.items():
        loans = book[tiers == tier]
        yuan = _yuan(loans["balance"])
        rows.append((name, len(loans), yuan_to_wan(yuan), share(yuan, total)))
    rows.append(("合计", len(book), yuan_to_wan(total), share(total, total)))
    return pd.DataFrame(rows, columns=["分类", "笔数", "余额（万元）", "占比（%）"])


def _ageing(book: pd.DataFrame) -> pd.DataFrame:
    total = _yuan(book["balance"])
    dpd = book["dpd"].fillna(0).astype(int).clip(lower=0)
    rows = []
    for label, span, low, high in AGEING_BUCKETS:
        mask = (dpd >= low) & (dpd <= high) if high is not None else dpd >= low
        yuan = _yuan(book.loc[mask, "balance"])
        rows.append((label, span, int(mask.sum()), yuan_to_wan(yuan), share(yuan, total)))
    return pd.DataFrame(rows, columns=["账龄", "逾期天数", "笔数", "余额（万元）", "占比（%）"])


def _top_borrowers(book: pd.DataFrame) -> pd.DataFrame:
    total = _yuan(book["balance"])
    rows = []
    for borrower_id, loans in book.groupby("borrower_id", sort=True):
        first = loans.sort_values("contract_id").iloc[0]
        worst = int(loans["tier"].astype(int).max())
        rows.append({
            "borrower_id": borrower_id,
            "借款人": mask_name(first["borrower_name"], first["borrower_kind"]),
            "类型": "个人" if first["borrower_kind"] == "individual" else "企业",
            "行业": str(first["industry_name"] or ""),
            "笔数": len(loans),
            "yuan": _yuan(loans["balance"]),
            "最差分类": TIER_NAMES[worst],
        })
    # Ties broken by borrower id so the ranking never depends on row order.
    rows.sort(key=lambda r: (-r["yuan"], str(r["borrower_id"])))
    out = []
    for rank, r in enumerate(rows[:TOP_N], start=1):
        out.append((rank, r["借款人"], r["类型"], r["行业"], r["笔数"], yuan_to_wan(r["yuan"]),
                    share(r["yuan"], total), r["最差分类"]))
    return pd.DataFrame(out, columns=["排名", "借款人", "类型", "行业", "笔数", "余额（万元）", "占比（%）", "最差分类"])


def _watch_list(book: pd.DataFrame, names: dict[str, str]) -> pd.DataFrame:
    loans = book[book["tier"].astype(int) >= 2].copy()
    loans["sort_yuan"] = [to_decimal(v) for v in loans["balance"]]
    loans["sort_tier"] = loans["tier"].astype(int)
    loans = loans.sort_values(["sort_tier", "sort_yuan", "contract_id"], ascending=[False, False, True])
    rows = [
        (r.contract_id, mask_name(r.borrower_name, r.borrower_kind), TIER_NAMES[r.sort_tier], int(r.dpd),
         yuan_to_wan(r.sort_yuan), scrub(r.reasons, names))
        for r in loans.itertuples(index=False)
    ]
    return pd.DataFrame(rows, columns=["合同号", "借款人", "分类", "逾期天数", "余额（万元）", "分类原因"])


def _documents(pack: dict, names: dict[str, str]) -> tuple[pd.DataFrame, pd.DataFrame]:
    docs = pack.get("documents") or {}
    counts = pd.DataFrame([("已归档", int(docs.get("archived", 0))), ("已隔离", int(docs.get("quarantined", 0)))],
                          columns=["项目", "文件数"])
    items = sorted(docs.get("quarantine") or [], key=lambda d: (str(d.get("file_name")), str(d.get("reason"))))
    quarantine = pd.DataFrame([(scrub(d.get("file_name"), names), scrub(d.get("reason"), names)) for d in items],
                              columns=["文件名", "隔离原因"])
    return counts, quarantine


def management_sections(pack: dict) -> dict[str, pd.DataFrame]:
    """The report's tables, keyed by section title; names masked, money in 万元 (Decimal)."""
    book = pack["book"]
    names = _scrubber(book)
    doc_counts, quarantine = _documents(pack, names)
    return {
        "资产概况": _key_figures(pack),
        "五级分类分布": _tier_distribution(book),
        "逾期账龄": _ageing(book),
        "前十大借款人": _top_borrowers(book),
        "关注及不良贷款明细": _watch_list(book, names),
        "文档归档统计": doc_counts,
        "文档隔离清单": quarantine,
    }


# --------------------------------------------------------------------------- charts

_CHART_RC = {
    "font.size": 8,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.edgecolor": "#888888",
    "axes.unicode_minus": False,
    "svg.hashsalt": "postloan",
    "path.simplify": True,
}


def bar_chart_png(labels: list[str], values: list[float], bar_colours: list[str], ylabel: str,
                  notes: list[str]) -> bytes:
    """A small labelled bar chart as PNG bytes, independent of the user's matplotlibrc."""
    font = chart_font()
    with matplotlib.rc_context():
        matplotlib.rcdefaults()  # ignore any local matplotlibrc
        matplotlib.rcParams.update(_CHART_RC)
        fig = Figure(figsize=(6.6, 2.6), dpi=200)
        FigureCanvasAgg(fig)
        ax = fig.add_subplot()
        bars = ax.bar(range(len(values)), values, color=bar_colours, width=0.6)
        ax.set_xticks(range(len(labels)), labels, fontproperties=font)
        ax.set_ylabel(ylabel, fontproperties=font)
        ax.grid(axis="y", color="#DDDDDD", linewidth=0.6)
        ax.set_axisbelow(True)
        top = max(values) if values and max(values) > 0 else 1.0
        ax.set_ylim(0, top * 1.25)
        for bar, note in zip(bars, notes):
            ax.annotate(note, (bar.get_x() + bar.get_width() / 2, bar.get_height()), xytext=(0, 2),
                        textcoords="offset points", ha="center", va="bottom", fontproperties=font, fontsize=7)
        fig.tight_layout()
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png", dpi=200, metadata={"Software": None})
    return buffer.getvalue()


def _tier_chart(tiers: pd.DataFrame) -> bytes:
    rows = tiers[tiers["分类"] != "合计"]
    notes = [f"{money(b)}\n{n}笔" for b, n in zip(rows["余额（万元）"], rows["笔数"])]
    return bar_chart_png(list(rows["分类"]), [float(v) for v in rows["余额（万元）"]],
                         [TIER_COLOURS[t] for t in TIER_NAMES], "余额（万元）", notes)


# --------------------------------------------------------------------------- PDF layout


def _styles() -> dict[str, ParagraphStyle]:
    font = register_pdf_font()
    base = ParagraphStyle("base", fontName=font, fontSize=9, leading=13, wordWrap="CJK")
    return {
        "title": ParagraphStyle("title", parent=base, fontSize=22, leading=30, alignment=TA_CENTER, textColor=NAVY),
        "subtitle": ParagraphStyle("subtitle", parent=base, fontSize=12, leading=18, alignment=TA_CENTER),
        "meta": ParagraphStyle("meta", parent=base, alignment=TA_CENTER, textColor=colors.HexColor("#555555")),
        "h1": ParagraphStyle("h1", parent=base, fontSize=13, leading=18, textColor=NAVY, spaceBefore=10, keepWithNext=1,
                             spaceAfter=2),
        "body": base,
        "cell": ParagraphStyle("cell", parent=base, fontSize=8, leading=10.5),
        "cell_right": ParagraphStyle("cell_right", parent=base, fontSize=8, leading=10.5, alignment=TA_RIGHT),
        "head": ParagraphStyle("head", parent=base, fontSize=8, leading=10.5, textColor=colors.white,
                               alignment=TA_CENTER),
        "note": ParagraphStyle("note", parent=base, fontSize=8, leading=11, textColor=colors.HexColor("#555555")),
    }


def _esc(text: Any) -> str:
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _cell_text(value: Any) -> str:
    if value is None or (isinstance(value, float) and value != value):
        return "—"
    if isinstance(value, Decimal):
        return money(value)
    return str(value)


def _table(df: pd.DataFrame, widths_mm: list[float], st: dict[str, ParagraphStyle],
           right: frozenset[str] | set[str] = frozenset(), extra: list[tuple] = (),
           markup: Callable[[str, Any], str] | None = None) -> Table:
    """A styled table: navy header, zebra rows, numbers right-aligned, text wrapped.

    ``markup(column, value)`` may return reportlab paragraph markup for a cell (e.g. colour).
    """
    def cell(column: str, value: Any) -> Paragraph:
        text = (markup and markup(column, value)) or _esc(_cell_text(value))
        return Paragraph(text, st["cell_right"] if column in right else st["cell"])

    header = [Paragraph(_esc(c), st["head"]) for c in df.columns]
    body = [[cell(c, v) for c, v in zip(df.columns, row)] for row in df.itertuples(index=False)]
    table = Table([header, *body], colWidths=[w * mm for w in widths_mm], repeatRows=1)
    style = [
        ("BACKGROUND", (0, 0), (-1, 0), NAVY),
        ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
        ("LINEBELOW", (0, 0), (-1, -1), 0.25, colors.HexColor("#C8CED6")),
        ("BOX", (0, 0), (-1, -1), 0.5, NAVY),
        ("TOPPADDING", (0, 0), (-1, -1), 2.5),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 2.5),
    ]
    style += [("BACKGROUND", (0, i), (-1, i), colors.HexColor("#F1F4F8")) for i in range(2, len(body) + 1, 2)]
    table.setStyle(TableStyle(style + list(extra)))
    return table


def _heading(text: str, st: dict[str, ParagraphStyle]) -> list:
    return [Paragraph(text, st["h1"]), HRFlowable(width="100%", thickness=0.8, color=NAVY, spaceAfter=5)]


def _period_label(period: str) -> str:
    try:
        year, month = period.split("-")[:2]
        return f"{int(year)}年{int(month)}月"
    except ValueError:
        return period


def _title_block(pack: dict, st: dict[str, ParagraphStyle]) -> list:
    inst = pack["institution"]
    report_date: date = inst["report_date"]
    meta = f"报表日期：{report_date:%Y-%m-%d}　　编制：{_esc(inst.get('preparer', ''))}　　金额单位：万元"
    return [
        Spacer(1, 4 * mm),
        Paragraph("贷后管理月度报告", st["title"]),
        Paragraph(f"{_esc(inst['name'])}　·　报告期 {_period_label(pack['period'])}", st["subtitle"]),
        Paragraph(meta, st["meta"]),
        Spacer(1, 3 * mm),
    ]


def _verdict_markup(column: str, value: Any) -> str | None:
    colour = {"达标": PASS_COLOUR, "未达标": FAIL_COLOUR}.get(value) if column == "评价" else None
    return f'<font color="{colour}">● {_esc(value)}</font>' if colour else None


def _overview(sections: dict[str, pd.DataFrame], st: dict) -> list:
    table = _table(sections["资产概况"], [58, 44, 40, 32], st, right={"本期值", "阈值"}, markup=_verdict_markup)
    note = Paragraph("注：比率按期末余额计算；阈值为监管或内部限额，“—”表示无阈值。", st["note"])
    return [KeepTogether([*_heading("一、资产概况", st), table, Spacer(1, 1.5 * mm), note])]


def _tier_section(sections: dict[str, pd.DataFrame], st: dict) -> list:
    df = sections["五级分类分布"]
    table = _table(df, [44, 40, 50, 40], st, right={"笔数", "余额（万元）", "占比（%）"},
                   extra=[("BACKGROUND", (0, len(df)), (-1, len(df)), colors.HexColor("#DCE3EC"))])
    chart = Image(io.BytesIO(_tier_chart(df)), width=174 * mm, height=174 * mm * 2.6 / 6.6)
    return [KeepTogether([*_heading("二、五级分类分布", st), table, Spacer(1, 3 * mm), chart])]


def _ageing_section(sections: dict[str, pd.DataFrame], st: dict) -> list:
    df = sections["逾期账龄"]
    table = _table(df, [24, 36, 30, 50, 34], st, right={"笔数", "余额（万元）", "占比（%）"})
    note = Paragraph("注：M1 = 逾期 1–30 天，M2 = 31–60 天，依此类推；M6+ 为逾期 180 天以上。", st["note"])
    return [KeepTogether([*_heading("三、逾期账龄", st), table, Spacer(1, 1.5 * mm), note])]


def _top_section(sections: dict[str, pd.DataFrame], st: dict) -> list:
    df = sections["前十大借款人"]
    table = _table(df, [10, 42, 12, 44, 12, 22, 16, 16], st, right={"排名", "笔数", "余额（万元）", "占比（%）"})
    note = Paragraph("注：按借款人合并余额排序；借款人名称已脱敏。", st["note"])
    return [KeepTogether([*_heading("四、前十大借款人", st), table, Spacer(1, 1.5 * mm), note])]


def _watch_section(sections: dict[str, pd.DataFrame], st: dict) -> list:
    df = sections["关注及不良贷款明细"]
    flow = _heading("五、关注及不良贷款明细", st)
    if df.empty:
        return [*flow, Paragraph("本期无关注类及不良贷款。", st["body"])]
    shown = df.head(DETAIL_ROWS_MAX)
    flow.append(_table(shown, [22, 38, 12, 16, 22, 64], st, right={"逾期天数", "余额（万元）"}))
    more = f"…共{len(df)}笔，按分类从差到好、余额从大到小列示前{DETAIL_ROWS_MAX}笔。" if len(df) > DETAIL_ROWS_MAX else f"共{len(df)}笔。"
    flow += [Spacer(1, 1.5 * mm), Paragraph(more, st["note"])]
    return flow


def _documents_section(sections: dict[str, pd.DataFrame], st: dict) -> list:
    counts = sections["文档归档统计"]
    quarantine = sections["文档隔离清单"]
    archived, isolated = (int(v) for v in counts["文件数"])
    flow = [*_heading("六、文档归档与隔离", st),
            Paragraph(f"本期已归档文件 <b>{archived}</b> 个，已隔离文件 <b>{isolated}</b> 个。", st["body"]),
            Spacer(1, 2 * mm)]
    if quarantine.empty:
        return [*flow, Paragraph("无隔离文件。", st["body"])]
    return [*flow, _table(quarantine, [70, 104], st)]


def _decorate(canvas: Canvas, doc: BaseDocTemplate, inst: dict, period: str) -> None:
    """Running header on every page (footer with page totals is drawn at save time)."""
    font = register_pdf_font()
    width, height = A4
    canvas.saveState()
    canvas.setFont(font, 8)
    canvas.setFillColor(colors.HexColor("#555555"))
    canvas.drawString(18 * mm, height - 12 * mm, str(inst["name"]))
    canvas.drawRightString(width - 18 * mm, height - 12 * mm, f"贷后管理月度报告 · {period}")
    canvas.setStrokeColor(NAVY)
    canvas.setLineWidth(0.6)
    canvas.line(18 * mm, height - 13.5 * mm, width - 18 * mm, height - 13.5 * mm)
    canvas.restoreState()


def _canvas_class(created: str) -> type[Canvas]:
    """Canvas that stamps a fixed creation date and writes '第 n 页 / 共 N 页' footers."""

    class NumberedCanvas(Canvas):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.setDateFormatter(lambda *_: created)
            self._pages: list[dict] = []

        def showPage(self) -> None:
            self._pages.append(dict(self.__dict__))
            self._startPage()

        def save(self) -> None:
            for state in self._pages:
                self.__dict__.update(state)
                self._footer(len(self._pages))
                super().showPage()
            super().save()

        def _footer(self, total: int) -> None:
            width, _ = A4
            self.saveState()
            self.setFont(register_pdf_font(), 8)
            self.setFillColor(colors.HexColor("#555555"))
            self.drawString(18 * mm, 10 * mm, "内部资料　注意保密")
            self.drawCentredString(width / 2, 10 * mm, f"第 {self._pageNumber} 页 / 共 {total} 页")
            self.restoreState()

    return NumberedCanvas


def render_management_pdf(pack: dict) -> bytes:
    """The monthly management report as PDF bytes; byte-identical for identical packs."""
    inst, period = pack["institution"], pack["period"]
    st = _styles()
    sections = management_sections(pack)
    buffer = io.BytesIO()
    doc = BaseDocTemplate(
        buffer, pagesize=A4, leftMargin=18 * mm, rightMargin=18 * mm, topMargin=18 * mm, bottomMargin=16 * mm,
        title=f"贷后管理月度报告 {period}", author=str(inst["name"]), subject="贷后管理",
        creator="postloan", invariant=1,
    )
    frame = Frame(doc.leftMargin, doc.bottomMargin, doc.width, doc.height, id="body")
    doc.addPageTemplates([PageTemplate(id="page", frames=[frame],
                                       onPage=lambda c, d: _decorate(c, d, inst, period))])
    story = [
        *_title_block(pack, st),
        *_overview(sections, st),
        *_tier_section(sections, st),
        *_ageing_section(sections, st),
        *_top_section(sections, st),
        *_watch_section(sections, st),
        *_documents_section(sections, st),
    ]
    doc.build(story, canvasmaker=_canvas_class(pdf_date_string(inst["report_date"])))
    return buffer.getvalue()
