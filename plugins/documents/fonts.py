"""Locate and register the CJK font used to render documents.

SimHei ships as a TrueType file inside mplfonts, so reportlab can embed a subset
of it (reportlab cannot embed the CFF-flavoured Noto .otf files).
"""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont

CJK_FONT_NAME = "SimHei"


class FontNotFoundError(RuntimeError):
    """No embeddable CJK TrueType font could be found."""


@lru_cache(maxsize=1)
def cjk_font_path() -> Path:
    """Path of SimHei.ttf shipped with mplfonts."""
    import mplfonts  # imported lazily: only needed to find its package folder

    path = Path(mplfonts.__file__).resolve().parent / "fonts" / "SimHei.ttf"
    if not path.is_file():
        raise FontNotFoundError(f"CJK font not found at {path}; is mplfonts installed?")
    return path


@lru_cache(maxsize=1)
def register_cjk_font() -> str:
    """Register SimHei with reportlab once per process (parsing the 9 MB file is slow)."""
    pdfmetrics.registerFont(TTFont(CJK_FONT_NAME, str(cjk_font_path())))
    return CJK_FONT_NAME
