"""CJK fonts shipped by the ``mplfonts`` package, located without hard-coded paths.

SimHei is TrueType (glyf outlines), which reportlab can subset and embed;
reportlab cannot embed the CFF-based Noto .otf, so matplotlib gets Noto and
the PDF text gets SimHei.
"""

from __future__ import annotations

from functools import cache
from importlib import resources
from pathlib import Path

from matplotlib import font_manager
from reportlab.lib.fonts import addMapping
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont

PDF_FONT = "SimHei"


def _font_path(file_name: str) -> Path:
    path = Path(str(resources.files("mplfonts") / "fonts" / file_name))
    if not path.is_file():
        raise FileNotFoundError(f"CJK font {file_name} not found in the mplfonts package")
    return path


def simhei_path() -> Path:
    return _font_path("SimHei.ttf")


def noto_sans_path() -> Path:
    return _font_path("NotoSansCJKsc-Regular.otf")


@cache
def register_pdf_font() -> str:
    """Register SimHei with reportlab once per process; returns the font name."""
    if PDF_FONT not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(TTFont(PDF_FONT, str(simhei_path())))
        # SimHei has no bold/italic faces; map them to the regular face so <b> markup works.
        for bold in (0, 1):
            for italic in (0, 1):
                addMapping(PDF_FONT, bold, italic, PDF_FONT)
    return PDF_FONT


@cache
def chart_font() -> font_manager.FontProperties:
    """Noto Sans CJK for matplotlib, added by file so no system font lookup is involved."""
    path = noto_sans_path()
    font_manager.fontManager.addfont(str(path))
    return font_manager.FontProperties(fname=str(path))
