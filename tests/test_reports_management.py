"""Specification of the monthly management report (贷后管理月度报告) PDF and its section tables."""

from __future__ import annotations

import io
import subprocess
from datetime import date
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pdfplumber
import pytest
from pypdf import PdfReader

from plugins.reports.management import management_sections, mask_name, render_management_pdf

D = Decimal
TIER_NAMES = {1: "正常", 2: "关注", 3: "次级", 4: "可疑", 5: "损失"}
BOOK_COLUMNS = [
    "contract_id", "borrower_id", "borrower_name", "borrower_kind", "product", "industry_code", "industry_name",
    "region", "issuance_type", "restructured", "restructure_count", "extended", "dpd", "balance", "tier",
    "tier_name", "previous_tier", "regulatory_provision", "reasons",
]
INSTITUTION = {"name": "示例融资租赁有限公司", "code": "L0001H000000001", "report_date": date(2026, 9, 30),
               "preparer": "赵会计", "unit": "万元"}
# Without the optional frames (trend, migration, watch list, early warning, ECL) and without last month's tiers.
HEADINGS = ["一、资产概况", "二、五级分类分布", "三、逾期账龄", "四、前十大借款人", "五、集中度",
            "六、关注及不良贷款明细", "七、文档归档与隔离"]

# contract, borrower id, name, kind, tier, dpd, balance yuan, provision yuan, reasons
LOANS = [
    ("HT001", "B01", "江苏恒达机械制造有限公司", "corporate", 1, 0, "1234567.89", "0", "按期还款"),
    ("HT002", "B02", "张三", "individual", 2, 15, "50.00", "1.00", "逾期15天"),
    ("HT003", "B03", "浙江海运物流股份有限公司", "corporate", 3, 95, "50.00", "12.50", "逾期超过90天"),
    ("HT004", "B04", "李四", "individual", 4, 200, "800000.00", "400000.00", "逾期超过180天"),
    ("HT005", "B05", "上海云帆科技有限公司", "corporate", 5, 400, "300000.00", "300000.00", "逾期超过360天"),
    ("HT006", "B01", "江苏恒达机械制造有限公司", "corporate", 2, 30, "2000000.00", "40000.00",
     "江苏恒达机械制造有限公司重组后观察期内"),
    ("HT007", "B06", "王小明", "individual", 1, 31, "99999.99", "0", "按期还款"),
    ("HT008", "B07", "安徽绿野农业发展有限公司", "corporate", 3, 181, "450000.50", "112500.13", "逾期超过90天"),
]
FULL_NAMES = sorted({loan[2] for loan in LOANS})


def make_book(loans: list[tuple] = LOANS) -> pd.DataFrame:
    rows = [{
        "contract_id": c, "borrower_id": b, "borrower_name": n, "borrower_kind": k, "product": "finance_lease",
        "industry_code": "C", "industry_name": "制造业", "region": "江苏", "issuance_type": "新增",
        "restructured": False, "restructure_count": 0, "extended": False, "dpd": dpd, "balance": D(bal),
        "tier": t, "tier_name": TIER_NAMES[t], "previous_tier": None, "regulatory_provision": D(prov),
        "reasons": reasons,
    } for c, b, n, k, t, dpd, bal, prov, reasons in loans]
    return pd.DataFrame(rows, columns=BOOK_COLUMNS)


def make_pack(book: pd.DataFrame | None = None) -> dict:
    book = make_book() if book is None else book
    return {
        "institution": INSTITUTION,
        "period": "2026-09",
        "book": book,
        "summary": {
            "loans": len(book), "balance": sum(book["balance"], D(0)), "npl_ratio": D("0.0320"),
            "provision_coverage": D("1.2000"), "loan_provision_ratio": D("0.0300"),
            "thresholds": {"npl_ratio_max": D("0.05"), "provision_coverage_min": D("1.50"),
                           "loan_provision_ratio_min": D("0.025")},
        },
        "documents": {"archived": 42, "quarantined": 2, "quarantine": [
            {"file_name": "江苏恒达机械制造有限公司_租赁合同.pdf", "reason": "缺少签章页"},
            {"file_name": "scan_0012.pdf", "reason": "无法识别合同号"},
        ]},
    }


@pytest.fixture(scope="module")
def pdf() -> bytes:
    return render_management_pdf(make_pack())


@pytest.fixture(scope="module")
def text(pdf: bytes) -> str:
    with pdfplumber.open(io.BytesIO(pdf)) as doc:
        return "\n".join(page.extract_text() or "" for page in doc.pages)


def test_mask_name() -> None:
    assert mask_name("江苏恒达机械制造有限公司", "corporate") == "江苏****有限公司"
    assert mask_name("浙江海运物流股份有限公司", "corporate") == "浙江****股份有限公司"
    assert mask_name("张三", "individual") == "张*"
    assert mask_name("王小明", "individual") == "王**"


def test_pdf_renders_all_sections_over_pages(pdf: bytes, text: str) -> None:
    assert pdf.startswith(b"%PDF")
    with pdfplumber.open(io.BytesIO(pdf)) as doc:
        assert len(doc.pages) >= 2
        assert sum(len(page.images) for page in doc.pages) >= 1  # the tier chart
        assert "第 1 页 / 共" in (doc.pages[0].extract_text() or "")
    for heading in ["贷后管理月度报告", "示例融资租赁有限公司", "2026年9月", *HEADINGS]:
        assert heading in text


def test_cjk_font_is_embedded(pdf: bytes) -> None:
    with pdfplumber.open(io.BytesIO(pdf)) as doc:
        assert all("SimHei" in c["fontname"] for c in doc.pages[0].chars)
    fonts = [f.get_object() for page in PdfReader(io.BytesIO(pdf)).pages
             for f in page["/Resources"]["/Font"].values()]
    embedded = [f for f in fonts if "/FontDescriptor" in f and "/FontFile2" in f["/FontDescriptor"].get_object()]
    assert embedded and all("SimHei" in f["/BaseFont"] for f in embedded)


def test_borrower_names_are_masked_everywhere(text: str) -> None:
    for name in FULL_NAMES:
        assert name not in text
    assert "江苏****有限公司" in text and "张*" in text
    assert "江苏****有限公司_租赁合同.pdf" in text  # names inside file names and reasons are scrubbed too


def test_key_figures_carry_thresholds_and_marks(text: str) -> None:
    overview = management_sections(make_pack())["资产概况"].set_index("指标")
    assert overview.loc["不良贷款率", "本期值"] == "3.20%" and overview.loc["不良贷款率", "评价"] == "达标"
    assert overview.loc["拨备覆盖率", "阈值"] == "≥ 150.00%" and overview.loc["拨备覆盖率", "评价"] == "未达标"
    assert overview.loc["贷款拨备率", "评价"] == "达标"
    assert "未达标" in text and "≤ 5.00%" in text


def test_tier_distribution_and_ageing_buckets() -> None:
    sections = management_sections(make_pack())
    tiers = sections["五级分类分布"].set_index("分类")
    assert tiers.loc["关注", "笔数"] == 2 and tiers.loc["关注", "余额（万元）"] == D("200.01")
    assert tiers.loc["合计", "余额（万元）"] == D("488.47")
    ageing = sections["逾期账龄"].set_index("账龄")["笔数"].to_dict()
    # dpd 0 → M0; 15, 30 → M1; 31 → M2; 95 → M4; 181 → M6+ (above 150; 200, 400 too)
    assert ageing == {"M0": 1, "M1": 2, "M2": 1, "M3": 0, "M4": 1, "M5": 0, "M6+": 3}


def test_the_ageing_buckets_are_the_configured_ones() -> None:
    pack = make_pack()
    pack["ageing_buckets"] = [("M0", 0), ("M1", 30), ("M2", 90), ("M3+", None)]
    ageing = management_sections(pack)["逾期账龄"].set_index("账龄")
    assert list(ageing["逾期天数"]) == ["未逾期", "1–30天", "31–90天", "90天以上"]
    assert ageing["笔数"].to_dict() == {"M0": 1, "M1": 2, "M2": 1, "M3+": 4}  # 31 in M2; 95, 181, 200, 400 above 90


def test_top_borrowers_aggregate_by_borrower() -> None:
    top = management_sections(make_pack())["前十大借款人"]
    first = top.iloc[0]
    assert first["借款人"] == "江苏****有限公司" and first["笔数"] == 2
    assert first["余额（万元）"] == D("323.46") and first["占比（%）"] == D("66.22")
    assert len(top) == 7


def test_detail_list_is_capped_at_thirty_rows() -> None:
    loans = [(f"W{i:03d}", f"C{i:03d}", f"客户{i:03d}", "individual", 2, 5, "1000.00", "20.00", "逾期")
             for i in range(35)]
    pack = make_pack(make_book(loans))
    assert len(management_sections(pack)["关注及不良贷款明细"]) == 35
    with pdfplumber.open(io.BytesIO(render_management_pdf(pack))) as doc:
        text = "\n".join(page.extract_text() or "" for page in doc.pages)
    assert "…共35笔" in text
    assert "W000" in text and "W034" not in text  # same tier and balance: contract order
    assert sum(f"W{i:03d}" in text for i in range(35)) == 30


def test_renders_are_byte_identical_with_report_date(pdf: bytes) -> None:
    assert render_management_pdf(make_pack()) == pdf
    info = PdfReader(io.BytesIO(pdf)).metadata
    assert info["/CreationDate"].startswith("D:20260930")


def test_undefined_ratios_are_marked_not_applicable() -> None:
    pack = make_pack(make_book([]))
    pack["summary"].update(npl_ratio=None, provision_coverage=None, loan_provision_ratio=None)
    overview = management_sections(pack)["资产概况"].set_index("指标")
    assert set(overview.loc[["不良贷款率", "拨备覆盖率", "贷款拨备率"], "评价"]) == {"不适用"}
    assert render_management_pdf(pack).startswith(b"%PDF")  # an empty book still renders


def test_renders_are_identical_across_processes(pdf: bytes) -> None:
    """No hash-seed or process state leaks into the file (set ordering, font subset tags, ids)."""
    import hashlib
    import os
    import sys

    code = ("import hashlib, sys; from tests.test_reports_management import make_pack; "
            "from plugins.reports.management import render_management_pdf; "
            "sys.stdout.write(hashlib.sha256(render_management_pdf(make_pack())).hexdigest())")
    root = Path(__file__).resolve().parents[1]
    env = {**os.environ, "PYTHONHASHSEED": "12345", "TZ": "Asia/Shanghai", "PYTHONPATH": str(root)}
    out = subprocess.run([sys.executable, "-c", code], cwd=root, env=env, capture_output=True, text=True,
                         check=True)
    assert out.stdout == hashlib.sha256(pdf).hexdigest()


# --- optional sections, concentration, trend, and the rendered pages -------------------------------


def _pack_with_optional_frames() -> dict:
    pack = make_pack()
    pack["book"] = pack["book"].assign(previous_tier=[1, 1, 2, 3, None, 2, 1, 2])
    months = [f"2025-{m:02d}" for m in (10, 11, 12)] + [f"2026-{m:02d}" for m in range(1, 10)]
    pack["trend"] = pd.DataFrame({"period": months, "npl_ratio": [D("0.02") + D(i) / 1000 for i in range(12)],
                                  "provision_coverage": [D("1.8") - D(i) / 20 for i in range(12)],
                                  "loan_provision_ratio": [D("0.03")] * 12})
    pack["watch_list"] = pd.DataFrame({"contract_id": ["HT002"], "borrower_name": ["张三"],
                                       "borrower_kind": ["individual"], "reasons": ["张三连续三期逾期"]})
    pack["ecl_summary"] = pd.DataFrame({"stage": [1, 2, 3], "loans": [2, 2, 4],
                                        "balance_cents": [133_345_788, 200_001_000, 155_000_050],
                                        "ecl_cents": [1_000, 2_000, 3_000]})
    return pack


def test_concentration_and_hhi() -> None:
    from plugins.reports.management import hhi

    assert hhi([D(1)]) == D("10000.00") and hhi([D(1), D(1)]) == D("5000.00") and hhi([]) is None
    sections = management_sections(make_pack())
    indices = sections["集中度指标"].set_index("维度")
    assert indices.loc["行业", "HHI"] == D("10000.00")  # every test loan is 制造业
    assert indices.loc["借款人", "最大单一占比（%）"] == D("66.22")
    assert sections["行业集中度"].iloc[0]["行业"] == "C 制造业"


def test_optional_sections_render_when_given_and_are_omitted_when_absent() -> None:
    plain = management_sections(make_pack())
    assert not {"指标趋势", "分类迁徙", "观察名单", "预警信号", "预期信用损失"} & set(plain)
    full = management_sections(_pack_with_optional_frames())
    assert {"指标趋势", "分类迁徙", "观察名单", "预期信用损失"} <= set(full)
    assert full["指标趋势"].iloc[-1]["不良贷款率（%）"] == D("3.10")
    migration = full["分类迁徙"].set_index("上月分类")
    assert migration.loc["关注", "次级"] == 2 and migration.loc["新发放", "合计"] == 1
    assert full["观察名单"].iloc[0]["借款人"] == "张*" and full["观察名单"].iloc[0]["原因"] == "张*连续三期逾期"
    assert full["预期信用损失"].iloc[2]["余额（万元）"] == D("155.00")


def _render_pages(pdf: bytes, scale: float = 1.0) -> list:
    import pypdfium2

    document = pypdfium2.PdfDocument(pdf)
    return [document[i].render(scale=scale).to_pil().convert("RGB") for i in range(len(document))]


def test_rendered_pages_show_charts_and_chinese_text(tmp_path: Path) -> None:
    """Pages rasterised with pypdfium2 (no poppler) are not blank, carry colour (charts) and Chinese text."""
    import pypdfium2

    pdf = render_management_pdf(_pack_with_optional_frames())
    pages = _render_pages(pdf)
    assert len(pages) >= 3
    for i, image in enumerate(pages):
        image.save(tmp_path / f"page_{i + 1}.png")
        extrema = image.convert("L").getextrema()
        assert extrema[0] < 100 and extrema[1] == 255  # ink on white paper
        dark = sum(1 for v in image.convert("L").getdata() if v < 200)
        assert dark > 0.005 * image.width * image.height, f"page {i + 1} is nearly blank"
    # Chart colours (tier green, NPL red) appear on the rendered pages, not only grey text.
    colours = {px for image in pages for px in image.resize((200, 283)).getdata()}
    assert any(r < 90 and g > 100 and b < 90 for r, g, b in colours)  # 正常 green bar
    assert any(r > 170 and g < 90 and b < 90 for r, g, b in colours)  # red NPL line / 未达标 mark
    document = pypdfium2.PdfDocument(pdf)
    text = "".join(document[i].get_textpage().get_text_range() for i in range(len(document)))
    for words in ("贷后管理月度报告", "不良率与拨备覆盖趋势", "五级分类迁徙", "集中度", "观察名单", "预期信用损失"):
        assert words in text


def test_the_institutions_own_targets_are_marked_beside_the_regulators_thresholds() -> None:
    # NPL ratio 3.20%: within the regulator's 5% ceiling (达标), above a board target of 3% (未达标).
    pack = make_pack()
    pack["summary"]["targets"] = {"npl_ratio_max": D("0.03"), "provision_coverage_min": D("1.80"),
                                  "loan_provision_ratio_min": D("0.03")}
    overview = management_sections(pack)["资产概况"].set_index("指标")
    assert overview.loc["不良贷款率", "评价"] == "达标"
    assert overview.loc["不良贷款率（内部目标）", "评价"] == "未达标"
    assert overview.loc["贷款拨备率（内部目标）", "评价"] == "达标"  # 3.00% ≥ 3%
