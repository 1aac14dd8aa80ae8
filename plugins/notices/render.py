"""A notice's PDF: the template of config/notices.yaml filled with the notice's fields, laid out with the
project's document renderer (plugins/documents/render.py: SimHei embedded, reportlab invariant=1, so the
same notice always gives the same bytes and the archive stores it once)."""
from __future__ import annotations

import io
from collections.abc import Mapping

from plugins.config import NoticeKind
from plugins.documents.fonts import register_cjk_font
from plugins.documents.render import _canvas, _Flow


class TemplateError(ValueError):
    """A template names a field the notice does not have."""


def fill(template: str, fields: Mapping[str, str], kind: str) -> str:
    try:
        return template.format_map(fields)
    except KeyError as exc:
        raise TemplateError(f"config/notices.yaml: kinds.{kind}: the template names {{{exc.args[0]}}}, which is "
                            f"not a notice field; fields: {sorted(fields)}") from None


def render_notice(kind_code: str, kind: NoticeKind, fields: Mapping[str, str]) -> bytes:
    """One notice as a one-page PDF: title, addressee, contract, the template's paragraphs, sign-off."""
    paragraphs = [fill(p, fields, kind_code) for p in kind.paragraphs]
    buf = io.BytesIO()
    canvas = _canvas(buf, f"{kind.title} {fields['contract_id']}", str(fields["institution"]))
    flow = _Flow(canvas, register_cjk_font())
    flow.centred(kind.title, 20, 14)
    flow.field("通知编号", str(fields["notice_id"]))
    flow.field("致", f"{fields['borrower_name']}（以下简称“贵方”）")
    flow.field("合同编号", str(fields["contract_id"]))
    flow.y -= 6
    for text in paragraphs:
        flow.para(text)
    flow.y -= 18
    flow.para(f"{fields['institution']}（盖章）", indent_chars=20)
    flow.para(str(fields["notice_date"]), indent_chars=20)
    flow.finish()
    canvas.save()
    return buf.getvalue()
