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
from matplotlib.ticker import MaxNLocator
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
    Flowable,
    KeepTogether,
    PageBreak,
    PageTemplate,
    Paragraph,
    Spacer,
    Table,
    TableStyle,
)

from plugins.reports.disposal_sections import disposal_monitoring_sections
from plugins.reports.determinism import pdf_date_string
from plugins.reports.fonts import chart_font, register_pdf_font
from plugins.reports.g11 import TIER_NAMES, to_decimal, yuan_to_wan
from plugins.reports.reader_language import (chinese_text, quarantine_phrase, reasons_phrase, severity_phrase,
                                             signal_phrase)

DETAIL_ROWS_MAX = 30
TOP_N = 10
TIER_COLOURS = {1: "#2E7D32", 2: "#F9A825", 3: "#EF6C00", 4: "#C62828", 5: "#6D1B1B"}
# Default overdue ageing (label, max DPD or None for the open last bucket), as config/provisioning.yaml's
# ageing_buckets; the pack's "ageing_buckets" (from that file) wins, so the report, the roll rates and the
# flow-rate matrix bucket alike.
DEFAULT_AGEING_BUCKETS = [("M0", 0), ("M1", 30), ("M2", 60), ("M3", 90), ("M4", 120), ("M5", 150), ("M6+", None)]


def ageing_buckets(configured: list[tuple[str, int | None]] | None = None) -> list[tuple[str, str, int, int | None]]:
    """(label, DPD range text, lower bound inclusive, upper bound inclusive or None)."""
    rows, low = [], 0
    for label, high in configured or DEFAULT_AGEING_BUCKETS:
        span = "未逾期" if high == 0 else f"{low}–{high}天" if high is not None else f"{low - 1}天以上"
        rows.append((label, span, low, high))
        low = (high if high is not None else low) + 1
    return rows


# Optional pack key → section title (frames provided by the classification / early-warning / ECL work).
OPTIONAL_SECTIONS = {"watch_list": "观察名单", "early_warning": "预警信号", "ecl_summary": "预期信用损失"}
# Issue 14 items 4–9 (plugins/reports/disposal_sections.py), in report order.
DISPOSAL_MONITORING_TITLES = ("不良处置", "担保与押品", "资金用途监测", "租赁物与车辆", "重大事项与检查发现", "预警处置")
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
    targets = s.get("targets")  # the institution's own, judged beside the regulator's
    if targets:
        rows += [
            _ratio_row("不良贷款率（内部目标）", s.get("npl_ratio"), targets["npl_ratio_max"], is_max=True),
            _ratio_row("拨备覆盖率（内部目标）", s.get("provision_coverage"), targets["provision_coverage_min"], is_max=False),
            _ratio_row("贷款拨备率（内部目标）", s.get("loan_provision_ratio"), targets["loan_provision_ratio_min"],
                       is_max=False),
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


def _ageing(book: pd.DataFrame, buckets: list[tuple[str, int | None]] | None) -> pd.DataFrame:
    total = _yuan(book["balance"])
    dpd = book["dpd"].fillna(0).astype(int).clip(lower=0)
    rows = []
    for label, span, low, high in ageing_buckets(buckets):
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
    findings = loans["reasons_json"] if "reasons_json" in loans else [None] * len(loans)
    rows = [
        (r.contract_id, mask_name(r.borrower_name, r.borrower_kind), TIER_NAMES[r.sort_tier], int(r.dpd),
         yuan_to_wan(r.sort_yuan), scrub(reasons_phrase(found, r.reasons) if found else chinese_text(r.reasons), names))
        for r, found in zip(loans.itertuples(index=False), findings)
    ]
    return pd.DataFrame(rows, columns=["合同号", "借款人", "分类", "逾期天数", "余额（万元）", "分类原因"])


def _documents(pack: dict, names: dict[str, str]) -> tuple[pd.DataFrame, pd.DataFrame]:
    docs = pack.get("documents") or {}
    counts = pd.DataFrame([("已归档", int(docs.get("archived", 0))), ("已隔离", int(docs.get("quarantined", 0)))],
                          columns=["项目", "文件数"])
    items = sorted(docs.get("quarantine") or [], key=lambda d: (str(d.get("file_name")), str(d.get("reason"))))
    quarantine = pd.DataFrame([(scrub(d.get("file_name"), names),
                                quarantine_phrase(d.get("reason_code"), scrub(d.get("reason"), names)))
                               for d in items], columns=["文件名", "隔离原因"])
    return counts, quarantine


def _group_shares(book: pd.DataFrame, column: str, label: str, limit: int = TOP_N) -> pd.DataFrame:
    """Largest groups by balance (ties by name), with count, 万元 and share."""
    total = _yuan(book["balance"])
    keys = book[column].fillna("").astype(str).str.strip().replace("", "未填报")
    rows = [(key, len(loans), _yuan(loans["balance"])) for key, loans in book.groupby(keys, sort=True)]
    rows.sort(key=lambda r: (-r[2], r[0]))
    return pd.DataFrame([(rank, key, n, yuan_to_wan(yuan), share(yuan, total))
                         for rank, (key, n, yuan) in enumerate(rows[:limit], start=1)],
                        columns=["排名", label, "笔数", "余额（万元）", "占比（%）"])


def hhi(balances: list[Decimal]) -> Decimal | None:
    """Herfindahl–Hirschman index on 0–10000: Σ (share in %)²; exact, rounded half up to 0.01 once."""
    total = sum(balances, Decimal(0))
    if not total:
        return None
    return sum(((b * 100 / total) ** 2 for b in balances), Decimal(0)).quantize(Decimal("0.01"), ROUND_HALF_UP)


def _industry_label(book: pd.DataFrame) -> pd.Series:
    codes = book["industry_code"].fillna("").astype(str).str.strip()
    names = book["industry_name"].fillna("").astype(str).str.strip()
    return (codes + " " + names).str.strip()


def _concentration(book: pd.DataFrame) -> pd.DataFrame:
    total = _yuan(book["balance"])
    rows = []
    for label, keys in (("借款人", book["borrower_id"].astype(str)), ("行业", _industry_label(book)),
                        ("地区", book["region"].fillna("").astype(str))):
        groups = sorted((_yuan(loans["balance"]) for _, loans in book.groupby(keys, sort=True)), reverse=True)
        top10 = sum(groups[:TOP_N], Decimal(0))
        rows.append((label, len(groups), hhi(groups), share(groups[0], total) if groups else None,
                     share(top10, total)))
    return pd.DataFrame(rows, columns=["维度", "个数", "HHI", "最大单一占比（%）", "前十大占比（%）"])


def _derived_migration(book: pd.DataFrame) -> pd.DataFrame | None:
    """Counts from last month's tier to this month's, for loans still on the book (new loans: 新发放)."""
    if "previous_tier" not in book or book["previous_tier"].isna().all():
        return None
    previous = book["previous_tier"].map(lambda t: "新发放" if t is None or pd.isna(t) else TIER_NAMES[int(t)])
    current = book["tier"].astype(int).map(TIER_NAMES)
    rows = []
    for origin in [*TIER_NAMES.values(), "新发放"]:
        mine = current[previous == origin]
        rows.append([origin, *(int((mine == name).sum()) for name in TIER_NAMES.values()), int(len(mine))])
    return pd.DataFrame(rows, columns=["上月分类", *TIER_NAMES.values(), "合计"])


TREND_COLUMNS = {"npl_ratio": "不良贷款率（%）", "provision_coverage": "拨备覆盖率（%）",
                 "loan_provision_ratio": "贷款拨备率（%）"}


def _as_percent(value: Any) -> Decimal | None:
    if value is None or value == "" or (isinstance(value, float) and value != value) or value is pd.NA:
        return None
    return (to_decimal(value) * 100).quantize(Decimal("0.01"), ROUND_HALF_UP)


def _trend(trend: pd.DataFrame) -> pd.DataFrame:
    """Past months' ratios (fractions in, percentages out), oldest first."""
    frame = trend.sort_values("period")
    out = pd.DataFrame({"期间": frame["period"].astype(str)})
    for column, label in TREND_COLUMNS.items():
        out[label] = [_as_percent(v) for v in frame[column]] if column in frame else None
    return out.reset_index(drop=True)


# Column labels for the optional frames other modules provide (watch list, early warning, ECL, migration).
OPTIONAL_LABELS = {
    "contract_id": "合同号", "borrower_id": "借款人编号", "borrower_name": "借款人", "tier": "分类",
    "tier_name": "分类", "dpd": "逾期天数", "stage": "阶段", "loans": "笔数", "signal": "预警信号",
    "signals": "预警信号", "severity": "级别", "reason": "原因", "reasons": "原因", "since": "起始日期",
    "action": "处置措施", "from_tier": "期初分类", "ecl_rate": "拨备率", "balance": "余额", "ecl": "预期信用损失",
    "provision": "准备金", "watch_since": "列入日期", "ead": "违约风险敞口", "pd_12m": "12个月违约概率",
    "lgd": "违约损失率", "period": "期间", "evidence": "依据",
}


def optional_section(frame: pd.DataFrame, names: dict[str, str]) -> pd.DataFrame:
    """An optional frame as a report table: names masked, cents as 万元, known columns in Chinese."""
    out = frame.copy().reset_index(drop=True)
    if "borrower_name" in out:
        kinds = out["borrower_kind"] if "borrower_kind" in out else [None] * len(out)
        out["borrower_name"] = [mask_name(n, k) for n, k in zip(out["borrower_name"], kinds)]
    out = out.drop(columns=[c for c in ("borrower_kind",) if c in out])
    if "signal" in out:
        out["signal"] = [signal_phrase(v) for v in out["signal"]]
    if "severity" in out:
        out["severity"] = [severity_phrase(v) for v in out["severity"]]
    if "from_tier" in out:  # the migration's row of loans new this month
        out["from_tier"] = ["新发放" if v == "new" else v for v in out["from_tier"]]
    for column in list(out.columns):
        if str(column).endswith("_cents"):
            out[column] = [yuan_to_wan(Decimal(int(v)).scaleb(-2)) if pd.notna(v) else None for v in out[column]]
            out = out.rename(columns={column: f"{OPTIONAL_LABELS.get(column[:-6], column[:-6])}（万元）"})
        else:  # free text may quote a borrower's full name, a code or an amount in cents
            out[column] = [scrub(chinese_text(v), names) if isinstance(v, str) else v for v in out[column]]
    return out.rename(columns={c: OPTIONAL_LABELS.get(c, c) for c in out.columns})


def _given(pack: dict, key: str) -> pd.DataFrame | None:
    frame = pack.get(key)
    return frame if isinstance(frame, pd.DataFrame) else None


def management_sections(pack: dict) -> dict[str, pd.DataFrame]:
    """The report's tables, keyed by section title, in report order; names masked, money in 万元 (Decimal).

    Optional pack keys add sections when present and are omitted cleanly when absent:
    ``trend`` (period, npl_ratio, provision_coverage, loan_provision_ratio as fractions),
    ``migration`` (any frame; else derived from the book's previous_tier when known),
    ``watch_list``, ``early_warning``, ``ecl_summary`` (any frames; see :func:`optional_section`),
    ``general_reserve`` (dict of cents, binding side, floor rate), ``performance`` (vintage and roll-rate
    frames), ``inspections`` and ``collections`` (dicts of frames from plugins.monitoring), ``covenants``.
    """
    book = pack["book"]
    names = _scrubber(book)
    doc_counts, quarantine = _documents(pack, names)
    sections: dict[str, pd.DataFrame] = {"资产概况": _key_figures(pack)}
    if pack.get("general_reserve"):
        sections["一般准备"] = _general_reserve(pack["general_reserve"])
    if _given(pack, "trend") is not None:
        sections["指标趋势"] = _trend(pack["trend"])
    sections["五级分类分布"] = _tier_distribution(book)
    migration = _given(pack, "migration")
    migration = optional_section(migration, names) if migration is not None else _derived_migration(book)
    if migration is not None:
        sections["分类迁徙"] = migration
    sections["逾期账龄"] = _ageing(book, pack.get("ageing_buckets"))
    sections.update(performance_sections(pack.get("performance") or {}))
    sections["前十大借款人"] = _top_borrowers(book)
    sections["行业集中度"] = _group_shares(book.assign(industry_label=_industry_label(book)), "industry_label", "行业")
    sections["地区集中度"] = _group_shares(book, "region", "地区")
    sections["集中度指标"] = _concentration(book)
    sections["关注及不良贷款明细"] = _watch_list(book, names)
    for key, title in OPTIONAL_SECTIONS.items():
        if _given(pack, key) is not None:
            sections[title] = optional_section(pack[key], names)
    sections.update(inspection_sections(pack.get("inspections") or {}, names))
    sections.update(collection_sections(pack.get("collections") or {}))
    sections.update(collection_run_sections(pack.get("collection_run") or {}, str(pack.get("period", ""))))
    sections.update(disposal_monitoring_sections(pack.get("disposal_monitoring")))  # issue 14 items 4–9
    if _given(pack, "covenants") is not None:
        sections["契约指标余量"] = covenant_section_table(pack["covenants"])
    sections["文档归档统计"] = doc_counts
    sections["文档隔离清单"] = quarantine
    return sections


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


def trend_chart_png(trend: pd.DataFrame, thresholds: dict) -> bytes:
    """NPL ratio (left axis) and provision coverage / loan provision ratio (right) by month, thresholds dashed."""
    font = chart_font()
    periods = list(trend["期间"])
    x = list(range(len(periods)))

    def series(label: str) -> list[float]:
        return [float(v) if v is not None else float("nan") for v in trend[label]]

    with matplotlib.rc_context():
        matplotlib.rcdefaults()
        matplotlib.rcParams.update(_CHART_RC)
        fig = Figure(figsize=(6.6, 3.2), dpi=200)
        FigureCanvasAgg(fig)
        left = fig.add_subplot()
        right = left.twinx()
        right.spines["right"].set_visible(True)
        lines = [
            left.plot(x, series("不良贷款率（%）"), color=FAIL_COLOUR, marker="o", markersize=3, label="不良贷款率（左轴）")[0],
            right.plot(x, series("拨备覆盖率（%）"), color="#1F3B5C", marker="s", markersize=3, label="拨备覆盖率（右轴）")[0],
        ]
        left.axhline(float(to_decimal(thresholds["npl_ratio_max"]) * 100), color=FAIL_COLOUR, linestyle="--",
                     linewidth=0.8)
        right.axhline(float(to_decimal(thresholds["provision_coverage_min"]) * 100), color="#1F3B5C",
                      linestyle="--", linewidth=0.8)
        lpr = series("贷款拨备率（%）")
        lines.append(left.plot(x, lpr, color="#F9A825", marker="^", markersize=3, label="贷款拨备率（左轴）")[0])
        left.axhline(float(to_decimal(thresholds["loan_provision_ratio_min"]) * 100), color="#F9A825",
                     linestyle="--", linewidth=0.8)
        left.set_ylabel("%（不良贷款率、贷款拨备率）", fontproperties=font)
        right.set_ylabel("%（拨备覆盖率）", fontproperties=font)
        left.set_ylim(bottom=0)
        right.set_ylim(bottom=0)
        step = max(1, len(periods) // 12)
        left.set_xticks(x[::step], periods[::step], fontproperties=font, rotation=45, ha="right")
        left.grid(axis="y", color="#DDDDDD", linewidth=0.6)
        small = font.copy()
        small.set_size(7)
        left.legend(handles=lines, prop=small, loc="lower center", bbox_to_anchor=(0.5, 1.0), frameon=False, ncol=3)
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


class Bookmark(Flowable):
    """A zero-size flowable that adds a bookmark and an outline entry (PDF 书签) where it is drawn."""

    def __init__(self, title: str, level: int = 0):
        super().__init__()
        self.title, self.level = title, level
        self.width = self.height = 0
        self.keepWithNext = True

    def draw(self) -> None:
        key = "s-" + "".join(f"{ord(c):x}" for c in self.title)  # stable across processes (no hash seed)
        pending = getattr(self.canv, "outline_by_page", None)
        if pending is None:  # a plain canvas: the page exists now
            self.canv.bookmarkPage(key)
            self.canv.addOutlineEntry(self.title, key, level=self.level, closed=False)
        else:  # NumberedCanvas writes its pages at save: the bookmark is placed then, on its page
            pending.setdefault(self.canv.getPageNumber(), []).append((key, self.title, self.level))


def _heading(text: str, st: dict[str, ParagraphStyle]) -> list:
    rule = HRFlowable(width="100%", thickness=0.8, color=NAVY, spaceAfter=5)
    rule.keepWithNext = True  # the heading, its rule and the first block after them go on one page
    return [Bookmark(text), Paragraph(text, st["h1"]), rule]


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


def _first_cell_rows(frame: pd.DataFrame | None, words: tuple[str, ...]) -> list:
    """Rows of a two-column figures table whose label contains one of `words` (label, value)."""
    if frame is None or frame.empty:
        return []
    return [(str(r[0]), r[-1]) for r in frame.itertuples(index=False) if any(w in str(r[0]) for w in words)]


def action_items(pack: dict, sections: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """What needs action this month, for the first page: the ratios that breach, the loans that became
    non-performing, overdue inspections, broken promises to pay and collection steps past their deadline."""
    rows: list[tuple[str, str, str]] = []
    for r in sections["资产概况"].itertuples(index=False):
        if r[3] == "未达标":
            rows.append(("指标未达标", str(r[0]), f"本期 {r[1]}，要求 {r[2]}"))
    book = pack["book"]
    previous = book["previous_tier"] if "previous_tier" in book else pd.Series([None] * len(book), index=book.index)
    was_performing = previous.map(lambda t: t is not None and not pd.isna(t) and int(t) < 3)
    moved = book[was_performing & (book["tier"].astype(int) >= 3)]
    if len(moved):
        biggest = moved.assign(_y=[to_decimal(v) for v in moved["balance"]]).sort_values(
            ["_y", "contract_id"], ascending=[False, True]).head(3)
        rows.append(("本月新转入不良", f"{len(moved)} 笔", f"余额 {money(yuan_to_wan(_yuan(moved['balance'])))} 万元；"
                     f"最大：{'、'.join(biggest['contract_id'].astype(str))}"))
    overdue = sections.get("检查逾期明细")
    if overdue is not None and len(overdue):
        rows.append(("贷后检查逾期", f"{len(overdue)} 笔", f"最长逾期 {int(overdue['逾期天数'].max())} 天，见“贷后检查”"))
    for label, value in (_first_cell_rows(sections.get("催收概况"), ("未兑现", "违约"))
                         + _first_cell_rows(sections.get("催收案件概况"), ("违约的还款承诺", "超期未执行"))):
        if str(value).replace(",", "").replace("0", "").replace(".", "").replace("%", "").strip():
            rows.append(("催收跟进", label, f"{value}"))
    for key in ("超期未处置预警", "预警处置超期"):  # early-warning dispositions past their deadline, when given
        frame = sections.get(key)
        if frame is not None and len(frame):
            rows.append(("预警超期未处置", f"{len(frame)} 条", f"见“{key}”"))
    if not rows:
        rows.append(("无", "—", "本月无未达标指标、新增不良、检查逾期或催收超期事项"))
    return pd.DataFrame(rows, columns=["事项", "对象", "说明"])


def _actions_page(pack: dict, sections: dict[str, pd.DataFrame], st: dict) -> list:
    """The first page: what needs action this month, and the approval block (审批栏) of the draft."""
    from plugins.reports.approval import approval_block_rows

    actions = action_items(pack, sections)
    block = pd.DataFrame(approval_block_rows(pack.get("approval"), pack["institution"].get("preparer")),
                         columns=["审批栏", "内容"])
    return [Bookmark("本月需关注事项"), Paragraph("本月需关注事项", st["h1"]),
            HRFlowable(width="100%", thickness=0.8, color=NAVY, spaceAfter=5),
            _table(actions, [34, 40, 100], st), Spacer(1, 2 * mm),
            Paragraph("注：详见后文各节；分类原因、预警信号均注明所依据的条款或制度。", st["note"]), Spacer(1, 6 * mm),
            KeepTogether([Bookmark("审批栏"), Paragraph("审批栏", st["h1"]),
                          HRFlowable(width="100%", thickness=0.8, color=NAVY, spaceAfter=5),
                          _table(block, [34, 140], st),
                          Spacer(1, 1.5 * mm),
                          Paragraph("注：本报告经有审批权限的人员审批后方为正式报告；审批记录存于归档，正式报告附审批页。",
                                    st["note"])]),
            PageBreak()]


def _verdict_markup(column: str, value: Any) -> str | None:
    colour = {"达标": PASS_COLOUR, "未达标": FAIL_COLOUR}.get(value) if column == "评价" else None
    return f'<font color="{colour}">● {_esc(value)}</font>' if colour else None


def _overview(title: str, sections: dict[str, pd.DataFrame], st: dict) -> list:
    table = _table(sections["资产概况"], [58, 44, 40, 32], st, right={"本期值", "阈值"}, markup=_verdict_markup)
    note = Paragraph("注：比率按期末余额计算；阈值为监管或内部限额，“—”表示无阈值。", st["note"])
    return [KeepTogether([*_heading(title, st), table, Spacer(1, 1.5 * mm), note])]


def _chart(png: bytes, height_ratio: float = 2.6 / 6.6) -> Image:
    return Image(io.BytesIO(png), width=174 * mm, height=174 * mm * height_ratio)


def _trend_section(title: str, sections: dict[str, pd.DataFrame], st: dict, thresholds: dict) -> list:
    df = sections["指标趋势"]
    chart = _chart(trend_chart_png(df, thresholds), 3.2 / 6.6)
    shown = df.tail(13)  # the table stays short; the chart carries the history
    table = _table(shown, [44, 43, 43, 44], st, right=set(TREND_COLUMNS.values()))
    note = Paragraph("注：虚线为阈值：不良贷款率上限、拨备覆盖率与贷款拨备率下限（本机构拨备政策）。",
                     st["note"])
    return [KeepTogether([*_heading(title, st), chart]), Spacer(1, 2 * mm), table, Spacer(1, 1.5 * mm), note]


def _tier_section(title: str, sections: dict[str, pd.DataFrame], st: dict) -> list:
    df = sections["五级分类分布"]
    table = _table(df, [44, 40, 50, 40], st, right={"笔数", "余额（万元）", "占比（%）"},
                   extra=[("BACKGROUND", (0, len(df)), (-1, len(df)), colors.HexColor("#DCE3EC"))])
    return [KeepTogether([*_heading(title, st), table, Spacer(1, 3 * mm), _chart(_tier_chart(df))])]


def _migration_section(title: str, sections: dict[str, pd.DataFrame], st: dict) -> list:
    df = sections["分类迁徙"]
    widths = [174 / len(df.columns)] * len(df.columns)
    table = _table(df, widths, st, right=set(df.columns[1:]))
    note = Paragraph("注：行为上月末报送的分类，列为本月分类（笔数）；结清、核销、转让列为本月离开贷款账簿的贷款，"
                     "“新发放”行为本月新发放的贷款。", st["note"])
    return [KeepTogether([*_heading(title, st), table, Spacer(1, 1.5 * mm), note])]


def _ageing_section(title: str, sections: dict[str, pd.DataFrame], st: dict) -> list:
    df = sections["逾期账龄"]
    table = _table(df, [24, 36, 30, 50, 34], st, right={"笔数", "余额（万元）", "占比（%）"})
    colours = ["#2E7D32", "#9CCC65", "#F9A825", "#FB8C00", "#EF6C00", "#E53935", "#C62828", "#6D1B1B"]
    overdue = df[df["账龄"] != "M0"]  # M0 dwarfs the rest; the chart shows where the arrears sit
    chart = bar_chart_png(list(overdue["账龄"]), [float(v) for v in overdue["余额（万元）"]], colours[1:],
                          "逾期贷款余额（万元）", [f"{money(b)}\n{n}笔" for b, n in zip(overdue["余额（万元）"], overdue["笔数"])])
    spans = "，".join(f"{label} = 逾期 {span.replace('天', ' 天')}" for label, span in zip(df["账龄"], df["逾期天数"])
                     if label != "M0")
    note = Paragraph(f"注：{spans}。图中不含未逾期（M0）。", st["note"])
    return [KeepTogether([*_heading(title, st), table, Spacer(1, 1.5 * mm), note]), _chart(chart)]


def _top_section(title: str, sections: dict[str, pd.DataFrame], st: dict) -> list:
    df = sections["前十大借款人"]
    table = _table(df, [10, 42, 12, 44, 12, 22, 16, 16], st, right={"排名", "笔数", "余额（万元）", "占比（%）"})
    note = Paragraph("注：按借款人合并余额排序；借款人名称已脱敏。", st["note"])
    return [KeepTogether([*_heading(title, st), table, Spacer(1, 1.5 * mm), note])]


def _concentration_section(title: str, sections: dict[str, pd.DataFrame], st: dict) -> list:
    industries, regions, indices = (sections[k] for k in ("行业集中度", "地区集中度", "集中度指标"))
    right = {"排名", "笔数", "余额（万元）", "占比（%）"}
    chart = bar_chart_png([str(v).split(" ")[0] for v in industries["行业"]],
                          [float(v) for v in industries["占比（%）"]], ["#1F3B5C"] * len(industries),
                          "余额占比（%）", [f"{v}%" for v in industries["占比（%）"]])
    note = Paragraph("注：HHI（赫芬达尔指数）= 各组余额占比（%）的平方和，0–10000；高于 2500 为高度集中。"
                     "行业按 GB/T 4754 门类。", st["note"])
    return [
        KeepTogether([*_heading(title, st),
                      _table(indices, [30, 24, 40, 40, 40], st, right={"个数", "HHI", "最大单一占比（%）", "前十大占比（%）"}),
                      Spacer(1, 3 * mm), _chart(chart)]),
        Spacer(1, 2 * mm),
        KeepTogether([Paragraph("按行业（前十）", st["body"]), _table(industries, [14, 70, 26, 34, 30], st, right=right)]),
        Spacer(1, 2 * mm),
        KeepTogether([Paragraph("按地区（前十）", st["body"]), _table(regions, [14, 70, 26, 34, 30], st, right=right)]),
    ]


def _watch_section(title: str, sections: dict[str, pd.DataFrame], st: dict) -> list:
    df = sections["关注及不良贷款明细"]
    flow = _heading(title, st)
    if df.empty:
        return [*flow, Paragraph("本期无关注类及不良贷款。", st["body"])]
    shown = df.head(DETAIL_ROWS_MAX)
    flow.append(_table(shown, [22, 38, 12, 16, 22, 64], st, right={"逾期天数", "余额（万元）"}))
    more = f"…共{len(df)}笔，按分类从差到好、余额从大到小列示前{DETAIL_ROWS_MAX}笔。" if len(df) > DETAIL_ROWS_MAX else f"共{len(df)}笔。"
    flow += [Spacer(1, 1.5 * mm), Paragraph(more, st["note"])]
    return flow


def _generic_section(key: str):
    """Builder for an optional frame's section: a capped table with equal column widths."""
    def build(title: str, sections: dict[str, pd.DataFrame], st: dict) -> list:
        df = sections[key]
        flow = _heading(title, st)
        if df.empty:
            return [*flow, Paragraph("本期无记录。", st["body"])]
        numeric = {c for c in df.columns if df[c].map(lambda v: isinstance(v, (int, float, Decimal))).all()}
        flow.append(_table(df.head(DETAIL_ROWS_MAX), [174 / len(df.columns)] * len(df.columns), st, right=numeric))
        if len(df) > DETAIL_ROWS_MAX:
            flow += [Spacer(1, 1.5 * mm), Paragraph(f"…共{len(df)}条，列示前{DETAIL_ROWS_MAX}条。", st["note"])]
        return flow
    return build


def _documents_section(title: str, sections: dict[str, pd.DataFrame], st: dict) -> list:
    counts = sections["文档归档统计"]
    quarantine = sections["文档隔离清单"]
    archived, isolated = (int(v) for v in counts["文件数"])
    flow = [*_heading(title, st),
            Paragraph(f"本期已归档文件 <b>{archived}</b> 个，已隔离文件 <b>{isolated}</b> 个。", st["body"]),
            Spacer(1, 2 * mm)]
    if quarantine.empty:
        return [*flow, Paragraph("无隔离文件。", st["body"])]
    return [*flow, _table(quarantine, [70, 104], st)]


CHINESE_NUMERALS = "一二三四五六七八九十"


def _numeral(n: int) -> str:
    """1 → 一, 10 → 十, 12 → 十二, 20 → 二十 (section numbers)."""
    if n <= 10:
        return CHINESE_NUMERALS[n - 1]
    tens, units = divmod(n, 10)
    return (CHINESE_NUMERALS[tens - 1] if tens > 1 else "") + "十" + (CHINESE_NUMERALS[units - 1] if units else "")


def _section_plan(sections: dict[str, pd.DataFrame], pack: dict) -> list[tuple[str, Callable]]:
    """(heading, builder) in report order; optional sections only when their table exists."""
    thresholds = pack["summary"]["thresholds"]
    plan = [("资产概况", "资产概况", _overview),
            ("一般准备", "一般准备（2012）", _reserve_section),
            ("指标趋势", "不良率与拨备覆盖趋势", lambda t, s, st: _trend_section(t, s, st, thresholds)),
            ("五级分类分布", "五级分类分布", _tier_section),
            ("分类迁徙", "五级分类迁徙", _migration_section),
            ("逾期账龄", "逾期账龄", _ageing_section),
            ("账龄分析", "账龄分析与滚动率", _vintage_section),
            ("前十大借款人", "前十大借款人", _top_section),
            ("集中度指标", "集中度", _concentration_section),
            ("关注及不良贷款明细", "关注及不良贷款明细", _watch_section),
            *((title, title, _generic_section(title)) for title in OPTIONAL_SECTIONS.values()),
            ("贷后检查", "贷后检查", _inspection_section),
            ("催收概况", "催收情况", _collection_section),
            ("催收案件概况", "催收案件", _case_section),
            ("罚息计提", "罚息与复利", _penalty_section),
            ("催收通知", "催收通知与提醒", _notice_section),
            ("契约指标余量", "契约指标余量", _covenant_section),
            *((title, title, _generic_section(title)) for title in DISPOSAL_MONITORING_TITLES),
            ("文档归档统计", "文档归档与隔离", _documents_section)]
    present = [(heading, build) for key, heading, build in plan if key in sections]
    return [(f"{_numeral(i)}、{heading}", build) for i, (heading, build) in enumerate(present, start=1)]


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
            self.outline_by_page: dict[int, list[tuple[str, str, int]]] = {}  # Bookmark flowables

        def showPage(self) -> None:
            self._pages.append(dict(self.__dict__))
            self._startPage()

        def save(self) -> None:
            for state in self._pages:
                self.__dict__.update(state)
                self._footer(len(self._pages))
                for key, title, level in self.outline_by_page.get(self._pageNumber, []):
                    self.bookmarkPage(key)
                    self.addOutlineEntry(title, key, level=level, closed=False)
                super().showPage()
            if self.outline_by_page:
                self.showOutline()  # open with the bookmarks pane
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
    story = _title_block(pack, st) + _actions_page(pack, sections, st)
    for heading, build in _section_plan(sections, pack):
        story += build(heading, sections, st)
    doc.build(story, canvasmaker=_canvas_class(pdf_date_string(inst["report_date"])))
    return buffer.getvalue()



# --------------------------------------------------------------------------- monitoring sections
# General reserve (2012), vintage and roll rates, inspections, collections: optional pack keys
# ``general_reserve`` (dict of cents), ``performance``, ``inspections``, ``collections`` (dicts of frames
# from plugins.portfolio.vintage and plugins.monitoring), each adding its sections when present.

VINTAGE_MOBS = (3, 6, 9, 12, 18, 24)  # months on book shown in the PDF's short vintage table
COHORT_COLOURS = ["#1F3B5C", "#2E7D32", "#F9A825", "#EF6C00", "#C62828", "#6D1B1B", "#5E35B1", "#00838F",
                  "#8D6E63", "#546E7A", "#AD1457", "#9E9D24"]


def _wan(cents: Any) -> Decimal | None:
    if cents is None or (isinstance(cents, float) and cents != cents):
        return None
    return yuan_to_wan(Decimal(int(cents)).scaleb(-2))


def _percent_of(fraction: Any) -> Decimal | None:
    return _as_percent(fraction)


def _general_reserve(reserve: dict) -> pd.DataFrame:
    rate = pct(reserve.get("floor_rate")) if reserve.get("floor_rate") is not None else "下限比例"
    binding = "下限" if reserve["binding"] == "floor" else "差额"
    rows = [
        ("潜在风险估计值（标准法）", _wan(reserve["potential_risk_cents"]), ""),
        ("减：资产减值准备", _wan(reserve["impairment_allowance_cents"]), ""),
        ("差额", _wan(reserve["difference_cents"]), "约束" if binding == "差额" else ""),
        (f"下限：风险资产 × {rate}", _wan(reserve["floor_cents"]), "约束" if binding == "下限" else ""),
        ("应计提一般准备", _wan(reserve["required_cents"]), f"按{binding}计提"),
    ]
    return pd.DataFrame(rows, columns=["项目", "金额（万元）", "说明"])


def performance_sections(performance: dict) -> dict[str, pd.DataFrame]:
    """账龄分析 (cohort × selected MOB, 30+ share in %), its full long table, and 滚动率."""
    out: dict[str, pd.DataFrame] = {}
    vintage = performance.get("vintage")
    if isinstance(vintage, pd.DataFrame) and len(vintage):
        wide = []
        for cohort, rows in vintage.groupby("cohort", sort=True):
            by_mob = dict(zip(rows["mob"].astype(int), rows["share_30"]))
            wide.append([cohort, int(rows["loans"].iloc[0]), _wan(rows["principal_cents"].iloc[0]),
                         *(_percent_of(by_mob[m]) if m in by_mob else None for m in VINTAGE_MOBS)])
        out["账龄分析"] = pd.DataFrame(wide, columns=["放款季度", "笔数", "放款本金（万元）",
                                                   *(f"MOB{m}（%）" for m in VINTAGE_MOBS)])
        out["账龄分析明细"] = pd.DataFrame({
            "放款季度": vintage["cohort"], "账龄月数": vintage["mob"].astype(int), "笔数": vintage["loans"].astype(int),
            "放款本金（万元）": [_wan(v) for v in vintage["principal_cents"]],
            "逾期30天以上（%）": [_percent_of(v) for v in vintage["share_30"]],
            "逾期90天以上（%）": [_percent_of(v) for v in vintage["share_90"]],
        })
    rolls = performance.get("roll_rates")
    if isinstance(rolls, pd.DataFrame) and len(rolls):
        out["滚动率"] = pd.DataFrame({
            "迁徙": [f"{a}→{b}" for a, b in zip(rolls["from_bucket"], rolls["to_bucket"])],
            "期初余额合计（万元）": [_wan(v) for v in rolls["balance_cents"]],
            "滚动率（%）": [_percent_of(v) for v in rolls["roll_rate"]],
            "回到M0（%）": [_percent_of(v) for v in rolls["cure_rate"]],
            "结清（%）": [_percent_of(v) for v in rolls["closed_rate"]],
            "核销（%）": [_percent_of(v) for v in rolls["written_off_rate"]],
        })
    return out


def inspection_sections(inspections: dict, names: dict[str, str]) -> dict[str, pd.DataFrame]:
    """贷后检查 (the month's summary), 检查逾期账龄 and 检查逾期明细 (names masked)."""
    if not isinstance(inspections.get("summary"), pd.DataFrame):
        return {}
    ageing = inspections["ageing"]
    status = inspections["status"]
    plan = pd.DataFrame({
        "合同号": status["contract_id"],
        "借款人": [mask_name(n, k) for n, k in zip(status["borrower_name"], status["borrower_kind"])],
        "分类": [TIER_NAMES[int(t)] for t in status["tier"]],
        "应做检查": status["next_inspection"],
        "应检查日期": [str(d) if d is not None and not pd.isna(d) else "—" for d in status["next_due"]],
        "逾期天数": status["days_overdue"].astype(int),
        "上次检查": [str(d) if d is not None and not pd.isna(d) else "无" for d in status["last_inspection"]],
        "余额（万元）": [_wan(v) for v in status["balance_cents"]],
    }).reset_index(drop=True)
    return {
        "贷后检查": inspections["summary"].reset_index(drop=True),
        "检查逾期账龄": pd.DataFrame({"逾期天数": ageing["逾期天数"], "笔数": ageing["loans"].astype(int),
                                  "余额（万元）": [_wan(v) for v in ageing["balance_cents"]]}),
        "检查逾期明细": plan[status["overdue"].to_numpy(dtype=bool)].reset_index(drop=True),
        "检查计划": plan,  # every loan's next inspection: a workbook sheet for the analysts, not in the PDF
    }


def collection_sections(collections: dict) -> dict[str, pd.DataFrame]:
    """催收概况, 催收方式, 催收结果 and 逾期转正常率 (cure rate by last month's bucket)."""
    if not isinstance(collections.get("figures"), pd.DataFrame):
        return {}
    actions, cures = collections["actions"], collections["cures"]
    return {
        "催收概况": collections["figures"].reset_index(drop=True),
        "催收方式": pd.DataFrame({"催收方式": actions["催收方式"], "次数": actions["次数"].astype(int),
                               "涉及笔数": actions["loans"].astype(int),
                               "回收金额（万元）": [_wan(v) for v in actions["recovered_cents"]]}),
        "催收结果": collections["outcomes"].rename(columns={"loans": "涉及笔数"}).reset_index(drop=True),
        "逾期转正常率": pd.DataFrame({
            "上月末账龄": cures["上月末账龄"], "上月末逾期笔数": cures["loans"].astype(int),
            "上月末余额（万元）": [_wan(v) for v in cures["balance_cents"]],
            "本月转正常笔数": cures["cured"].astype(int),
            "转正常余额（万元）": [_wan(v) for v in cures["cured_balance_cents"]],
            "转正常率（%）": [_percent_of(v) for v in cures["cure_rate"]],
        }),
    }


def vintage_chart_png(vintage: pd.DataFrame) -> bytes:
    """One line per origination quarter: share of principal ever more than 30 days overdue, by MOB."""
    font = chart_font()
    with matplotlib.rc_context():
        matplotlib.rcdefaults()
        matplotlib.rcParams.update(_CHART_RC)
        fig = Figure(figsize=(6.6, 3.0), dpi=200)
        FigureCanvasAgg(fig)
        ax = fig.add_subplot()
        cohorts = sorted(set(vintage["放款季度"]))
        for i, cohort in enumerate(cohorts):
            rows = vintage[vintage["放款季度"] == cohort]
            ax.plot(list(rows["账龄月数"]), [float(v) if v is not None else float("nan") for v in rows["逾期30天以上（%）"]],
                    color=COHORT_COLOURS[i % len(COHORT_COLOURS)], marker="o", markersize=2, linewidth=1.2,
                    label=cohort)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_xlabel("账龄（月，MOB）", fontproperties=font)
        ax.set_ylabel("曾逾期30天以上本金占比（%）", fontproperties=font)
        ax.set_ylim(bottom=0)
        ax.set_xlim(left=0)
        ax.grid(axis="y", color="#DDDDDD", linewidth=0.6)
        small = font.copy()
        small.set_size(7)
        ax.legend(prop=small, loc="upper left", frameon=False, ncol=2)
        fig.tight_layout()
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png", dpi=200, metadata={"Software": None})
    return buffer.getvalue()


def _reserve_section(title: str, sections: dict[str, pd.DataFrame], st: dict) -> list:
    df = sections["一般准备"]
    table = _table(df, [70, 50, 54], st, right={"金额（万元）"})
    note = Paragraph("注：金融企业准备金计提管理办法（2012）：一般准备为潜在风险估计值（正常 1.5%、关注 3%、次级 30%、"
                     "可疑 60%、损失 100%）扣减资产减值准备后的差额，且不低于期末风险资产的下限比例"
                     "（本机构拨备政策）；两者取高。", st["note"])
    return [KeepTogether([*_heading(title, st), table, Spacer(1, 1.5 * mm), note])]


def _vintage_section(title: str, sections: dict[str, pd.DataFrame], st: dict) -> list:
    flow = _heading(title, st)
    if "账龄分析明细" in sections:
        wide = sections["账龄分析"]
        widths = [22, 14, 28] + [110 / len(VINTAGE_MOBS)] * len(VINTAGE_MOBS)
        flow += [_chart(vintage_chart_png(sections["账龄分析明细"]), 3.0 / 6.6), Spacer(1, 2 * mm),
                 _table(wide, widths, st, right=set(wide.columns[1:])), Spacer(1, 1.5 * mm),
                 Paragraph("注：按放款季度分组，纵轴为曾逾期 30 天以上（或已核销）贷款的放款本金占该季度放款本金的比例，"
                           "横轴为放款后月数；“—”表示该季度尚未到此账龄。", st["note"])]
    if "滚动率" in sections:
        rolls = sections["滚动率"]
        flow += [Spacer(1, 3 * mm), KeepTogether([
            Paragraph("账龄滚动率（按余额加权，近期各月末汇总）", st["body"]),
            _table(rolls, [22, 36, 26, 30, 30, 30], st, right=set(rolls.columns[1:])), Spacer(1, 1.5 * mm),
            Paragraph("注：滚动率为月末处于该账龄的余额中，下一月末滚入下一账龄的比例；回到M0 为恢复正常还款的比例。",
                      st["note"])])]
    return flow


def _inspection_section(title: str, sections: dict[str, pd.DataFrame], st: dict) -> list:
    summary, ageing, detail = (sections[k] for k in ("贷后检查", "检查逾期账龄", "检查逾期明细"))
    bands = ageing[ageing["逾期天数"] != "合计"]
    chart = bar_chart_png(list(bands["逾期天数"]), [float(v) for v in bands["笔数"]],
                          ["#F9A825", "#EF6C00", "#C62828", "#6D1B1B"][:len(bands)], "检查逾期贷款笔数",
                          [f"{n}笔\n{money(b)}万元" for n, b in zip(bands["笔数"], bands["余额（万元）"])])
    flow = [KeepTogether([*_heading(title, st), _table(summary, [38, 34, 34, 34, 34], st, right=set(summary.columns[1:])),
                          Spacer(1, 1.5 * mm),
                          Paragraph("注：应检查日期按本机构贷后检查制度计算：首次检查为放款后若干工作日内，定期检查按"
                                    "五级分类确定频率，专项检查于逾期或下调分类后若干日内。", st["note"])]),
            Spacer(1, 2 * mm), _chart(chart, 2.4 / 6.6)]
    if len(detail):
        shown = detail.head(15)
        flow += [Spacer(1, 2 * mm), KeepTogether([
            Paragraph(f"检查逾期贷款（共{len(detail)}笔，按逾期天数列示前{len(shown)}笔）", st["body"]),
            _table(shown, [22, 30, 12, 18, 22, 16, 22, 32], st, right={"逾期天数", "余额（万元）"})])]
    return flow


def _collection_section(title: str, sections: dict[str, pd.DataFrame], st: dict) -> list:
    figures, actions, outcomes, cures = (sections[k] for k in ("催收概况", "催收方式", "催收结果", "逾期转正常率"))
    shown = actions[actions["催收方式"] != "合计"]
    chart = bar_chart_png(list(shown["催收方式"]), [float(v) for v in shown["次数"]], ["#1F3B5C"] * len(shown),
                          "本月催收次数", [f"{n}次\n{money(r)}万元" for n, r in zip(shown["次数"], shown["回收金额（万元）"])])
    return [
        KeepTogether([*_heading(title, st), _table(figures, [90, 84], st, right={"本期值"}), Spacer(1, 2 * mm),
                      _chart(chart, 2.4 / 6.6)]),
        Spacer(1, 2 * mm),
        KeepTogether([Paragraph("催收方式与回收金额", st["body"]),
                      _table(actions, [44, 40, 40, 50], st, right={"次数", "涉及笔数", "回收金额（万元）"})]),
        Spacer(1, 2 * mm),
        KeepTogether([Paragraph("催收结果", st["body"]), _table(outcomes, [64, 55, 55], st, right={"次数", "涉及笔数"})]),
        Spacer(1, 2 * mm),
        KeepTogether([Paragraph("逾期贷款转正常（按上月末账龄）", st["body"]),
                      _table(cures, [24, 28, 32, 28, 32, 30], st, right=set(cures.columns[1:])), Spacer(1, 1.5 * mm),
                      Paragraph("注：上月末逾期、本月末已无逾期（含已结清）的贷款为转正常；期间核销的不计入。承诺还款在约定天数内"
                                "有回款为兑现（本机构催收政策）。", st["note"])]),
    ]


def covenant_section_table(covenants: pd.DataFrame) -> pd.DataFrame:
    """Borrowers (masked) by covenant headroom, tightest first: ratio, ceiling, headroom in points, breach."""
    return pd.DataFrame({
        "借款人": [mask_name(n, k) for n, k in zip(covenants["borrower_name"], covenants["borrower_kind"])],
        "报表期": covenants["period_end"].astype(str),
        "资产负债率（%）": [_percent_of(v) for v in covenants["debt_to_asset"]],
        "约定上限（%）": [_percent_of(v) for v in covenants["covenant"]],
        "余量（百分点）": [_percent_of(v) for v in covenants["headroom"]],
        "状态": ["违约" if b else "未违约" for b in covenants["breach"]],
        "借款余额（万元）": [_wan(v) for v in covenants["balance_cents"]],
    })


def _covenant_markup(column: str, value: Any) -> str | None:
    if column == "状态" and value == "违约":
        return f'<font color="{FAIL_COLOUR}">● 违约</font>'
    return None


def _covenant_section(title: str, sections: dict[str, pd.DataFrame], st: dict) -> list:
    df = sections["契约指标余量"]
    flow = _heading(title, st)
    if df.empty:
        return [*flow, Paragraph("本期无可用的借款人财务报表。", st["body"])]
    shown = df.head(15)
    breaches = int((df["状态"] == "违约").sum())
    flow += [Paragraph(f"共{len(df)}户借款人有最新财务报表，其中资产负债率超过约定上限的<b>{breaches}</b>户；"
                       f"按余量从小到大列示前{len(shown)}户。", st["body"]), Spacer(1, 2 * mm),
             _table(shown, [38, 22, 24, 22, 24, 18, 26], st,
                    right={"资产负债率（%）", "约定上限（%）", "余量（百分点）", "借款余额（万元）"}, markup=_covenant_markup),
             Spacer(1, 1.5 * mm),
             Paragraph("注：资产负债率 = 负债合计 / 资产总计（最新一期报表，合并口径优先）；约定上限见 "
                       "本机构预警指标（资产负债率契约上限）；余量为负即已违约。", st["note"])]
    return flow


# --------------------------------------------------------------------------- collections run (issue 14)
# Optional pack key ``collection_run`` (assets/collections.py collection_pack): cases, workload (by collector),
# penalty (per contract) and notices, each a frame; sections 催收案件, 罚息与复利 and 催收通知与提醒.

CASES_SHOWN = 15  # cases listed per table in the PDF (the workbook has them all)


def _masked(frame: pd.DataFrame) -> list[str]:
    kinds = frame["borrower_kind"] if "borrower_kind" in frame else [None] * len(frame)
    return [mask_name(str(n), k) if isinstance(n, str) and n else "—" for n, k in zip(frame["borrower_name"], kinds)]


def _day_text(value: Any) -> str:
    return "—" if value is None or (not isinstance(value, str) and pd.isna(value)) or value == "" else str(value)[:10]


def collection_run_sections(run: dict, period: str) -> dict[str, pd.DataFrame]:
    """催收案件概况 / 催收阶段分布 / 催收员执行情况 / 超期未执行案件 / 逾期超90天未采取法律措施, 罚息计提 / 罚息明细,
    催收通知 / 催收通知明细: from the collection_run pack key; names masked, money in 万元."""
    out: dict[str, pd.DataFrame] = {}
    cases = run.get("cases")
    if isinstance(cases, pd.DataFrame):
        open_ = cases[cases["status"] == "open"]
        closed = cases[cases["status"] == "closed"]
        owed = open_["overdue_principal_cents"].astype("int64") + open_["overdue_interest_cents"].astype("int64")
        opened = sum(_day_text(d)[:7] == period for d in open_["opened_on"])
        rows = [("在催案件（件）", f"{len(open_):,}"), ("其中本月新增", f"{opened:,}"),
                ("在催逾期本息（万元）", f"{_wan(int(owed.sum())):,.2f}"), ("本月结案（件）", f"{len(closed):,}")]
        rows += [(f"其中{o}", f"{int((closed['outcome'] == o).sum()):,}") for o in sorted(set(closed["outcome"]))]
        rows += [("超期未执行下一步措施（件）", f"{int(open_['past_next_action'].sum()):,}"),
                 ("本月违约的还款承诺（件）", f"{int(cases['broken_this_month'].sum()):,}"),
                 ("逾期超90天未采取法律措施（件）", f"{int(open_['needs_legal_step'].sum()):,}"),
                 ("有困难申请的案件（件）", f"{int((open_['hardship'] != '').sum()):,}")]
        out["催收案件概况"] = pd.DataFrame(rows, columns=["指标", "本期值"])
        stages = [s for s in dict.fromkeys(open_.sort_values("dpd")["stage"])]
        out["催收阶段分布"] = pd.DataFrame([(s, int((open_["stage"] == s).sum()),
                                          _wan(int(owed[open_["stage"] == s].sum()))) for s in stages],
                                        columns=["催收阶段", "案件数", "逾期本息（万元）"])
        past = open_[open_["past_next_action"]].sort_values(["days_past_next_action", "case_id"],
                                                            ascending=[False, True])
        out["超期未执行案件"] = pd.DataFrame({
            "合同编号": past["contract_id"], "借款人": _masked(past), "催收阶段": past["stage"],
            "下一步措施": past["next_action"], "应执行日": [_day_text(d) for d in past["next_action_due"]],
            "超期天数": past["days_past_next_action"].astype(int), "催收员": past["collector"]}).reset_index(drop=True)
        legal = open_[open_["needs_legal_step"]].sort_values(["dpd", "case_id"], ascending=[False, True])
        out["逾期超90天未采取法律措施"] = pd.DataFrame({
            "合同编号": legal["contract_id"], "借款人": _masked(legal), "逾期天数": legal["dpd"].astype(int),
            "逾期本息（万元）": [_wan(int(p) + int(i)) for p, i in zip(legal["overdue_principal_cents"],
                                                            legal["overdue_interest_cents"])],
            "最近措施": legal["last_action"].replace("", "—"),
            "最近措施日期": [_day_text(d) for d in legal["last_action_date"]]}).reset_index(drop=True)
    workload = run.get("workload")
    if isinstance(workload, pd.DataFrame) and len(workload):
        out["催收员执行情况"] = workload.reset_index(drop=True)
    penalty = run.get("penalty")
    if isinstance(penalty, pd.DataFrame):
        accruing = penalty[penalty["penalty_interest_cents"] > 0]
        out["罚息计提"] = pd.DataFrame([
            ("本月计收罚息的合同（笔）", f"{int((penalty['accrued_this_month_cents'] > 0).sum()):,}"),
            ("逾期本金（万元）", f"{_wan(int(penalty['overdue_principal_cents'].sum())):,.2f}"),
            ("逾期利息（万元）", f"{_wan(int(penalty['overdue_interest_cents'].sum())):,.2f}"),
            ("累计罚息（万元）", f"{_wan(int(penalty['penalty_on_principal_cents'].sum())):,.2f}"),
            ("累计复利（万元）", f"{_wan(int(penalty['compound_interest_cents'].sum())):,.2f}"),
            ("本月计提罚息及复利（万元）", f"{_wan(int(penalty['accrued_this_month_cents'].sum())):,.2f}")],
            columns=["指标", "本期值"])
        top = accruing.sort_values(["penalty_interest_cents", "contract_id"], ascending=[False, True])
        out["罚息明细"] = pd.DataFrame({
            "合同编号": top["contract_id"], "借款人": _masked(top),
            "罚息利率（%）": [_percent_of(r) for r in top["penalty_rate"]],
            "计收复利": ["是" if c else "否" for c in top["compounding"]],
            "逾期本金（万元）": [_wan(v) for v in top["overdue_principal_cents"]],
            "累计罚息及复利（万元）": [_wan(v) for v in top["penalty_interest_cents"]],
            "本月计提（万元）": [_wan(v) for v in top["accrued_this_month_cents"]]}).reset_index(drop=True)
    notices = run.get("notices")
    if isinstance(notices, pd.DataFrame):
        kinds = list(dict.fromkeys(notices["kind_name"]))
        out["催收通知"] = pd.DataFrame([(k, int((notices["kind_name"] == k).sum())) for k in kinds]
                                    + [("合计", len(notices))], columns=["通知类型", "份数"])
        out["催收通知明细"] = pd.DataFrame({
            "通知类型": notices["kind_name"], "合同编号": notices["contract_id"], "借款人": _masked(notices),
            "归档文件": notices["file_name"], "哈希（前12位）": [str(h)[:12] for h in notices["sha256"]]}
        ).reset_index(drop=True)
    return out


def _capped(df: pd.DataFrame, widths: list[float], st: dict, right: set[str], what: str) -> list:
    if df.empty:
        return [Paragraph(f"本期无{what}。", st["body"])]
    flow = [_table(df.head(CASES_SHOWN), widths, st, right=right)]
    if len(df) > CASES_SHOWN:
        flow += [Spacer(1, 1.5 * mm), Paragraph(f"…共{len(df)}条，列示前{CASES_SHOWN}条（完整清单见工作簿）。", st["note"])]
    return flow


def _case_section(title: str, sections: dict[str, pd.DataFrame], st: dict) -> list:
    flow = [KeepTogether([*_heading(title, st), _table(sections["催收案件概况"], [100, 74], st, right={"本期值"})]),
            Spacer(1, 2 * mm)]
    if len(sections.get("催收阶段分布", [])):
        flow += [KeepTogether([Paragraph("在催案件按催收阶段（config/collections.yaml 催收阶梯）", st["body"]),
                               _table(sections["催收阶段分布"], [74, 50, 50], st, right={"案件数", "逾期本息（万元）"})]),
                 Spacer(1, 2 * mm)]
    if "催收员执行情况" in sections:
        wl = sections["催收员执行情况"]
        flow += [KeepTogether([Paragraph("催收员本月应执行与已执行措施", st["body"]),
                               _table(wl, [44, 26, 26, 26, 26, 26], st, right=set(wl.columns[1:]))]),
                 Spacer(1, 2 * mm)]
    flow += [KeepTogether([Paragraph("超期未执行下一步措施的案件", st["body"]),
                           *_capped(sections["超期未执行案件"], [26, 24, 24, 34, 22, 16, 28], st, {"超期天数"},
                                    "超期未执行案件")]),
             Spacer(1, 2 * mm),
             KeepTogether([Paragraph("逾期超过90天仍未采取法律措施（诉讼、仲裁）的案件", st["body"]),
                           *_capped(sections["逾期超90天未采取法律措施"], [30, 28, 20, 30, 30, 36], st,
                                    {"逾期天数", "逾期本息（万元）"}, "此类案件")]),
             Spacer(1, 1.5 * mm),
             Paragraph("注：每个逾期周期一个案件；阶段按逾期天数确定，各阶段措施须在进入阶段后规定天数内执行"
                       "（config/collections.yaml）。", st["note"])]
    return flow


def _penalty_section(title: str, sections: dict[str, pd.DataFrame], st: dict) -> list:
    detail = sections.get("罚息明细", pd.DataFrame())
    return [KeepTogether([*_heading(title, st), _table(sections["罚息计提"], [100, 74], st, right={"本期值"})]),
            Spacer(1, 2 * mm),
            KeepTogether([Paragraph("罚息及复利最多的合同", st["body"]),
                          *_capped(detail, [26, 26, 20, 16, 28, 30, 28], st, set(detail.columns[2:]) - {"计收复利"},
                                   "罚息")]),
            Spacer(1, 1.5 * mm),
            Paragraph("注：逾期本金按罚息利率逐日计收罚息，合同约定复利的，逾期利息按罚息利率计收复利；日利率=年利率/360。",
                      st["note"])]


def _notice_section(title: str, sections: dict[str, pd.DataFrame], st: dict) -> list:
    return [KeepTogether([*_heading(title, st), _table(sections["催收通知"], [100, 74], st, right={"份数"})]),
            Spacer(1, 2 * mm),
            KeepTogether([Paragraph("本月发出的通知（按类型、合同编号，已归档为催收通知文书）", st["body"]),
                          *_capped(sections["催收通知明细"], [30, 28, 26, 66, 24], st, set(), "通知")])]
