"""Notices to borrowers as documents (issue 14 item 2): which a month issues (select.py), each a PDF from
its template in config/notices.yaml (render.py), archived as collection_notice and delivered through the
`publishers` plugin group (plugins/publishers)."""
from plugins.notices.render import render_notice
from plugins.notices.select import NOTICE_COLUMNS, Notice, issue_notices

__all__ = ["NOTICE_COLUMNS", "Notice", "issue_notices", "render_notice"]
