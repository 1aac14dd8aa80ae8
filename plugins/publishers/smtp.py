"""E-mail delivery (`smtp`): each notice as a PDF attachment to its recipient (borrowers.email when the
borrowers table has it, else the `to` of the settings), one SMTP session per notice, STARTTLS when
configured. The Message-ID is the notice's hash, so a receiving system can drop a duplicate too."""
from __future__ import annotations

import smtplib
from email.message import EmailMessage
from email.utils import formataddr, parseaddr

from pydantic import BaseModel, ConfigDict, Field

from plugins.publishers import NOTICE_KIND, PublisherError, not_mine
from plugins.registry import Publication


class SmtpSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    host: str = "127.0.0.1"
    port: int = Field(default=25, ge=1, le=65535)
    sender: str = "贷后管理部 <postloan@lender.example>"
    to: str = ""                       # when the borrower has no e-mail address
    starttls: bool = False
    timeout_seconds: float = Field(default=10, gt=0)
    kinds: list[str] = [NOTICE_KIND]


def notice_message(publication: Publication, sender: str, recipient: str) -> EmailMessage:
    name = getattr(publication, "notice_name", "") or publication.kind
    contract = getattr(publication, "contract_id", "")
    message = EmailMessage()
    display, address = parseaddr(sender)
    message["From"] = formataddr((display, address)) if display else address
    message["To"] = recipient
    message["Subject"] = f"{name}（合同编号 {contract}）" if contract else name
    message["Message-ID"] = f"<{publication.sha256[:32]}@postloan>"
    message.set_content(f"{getattr(publication, 'borrower_name', '') or '您好'}：\n\n附件为{name}"
                        f"（{publication.file_name}），请查阅。\n\n本邮件由系统发送，请勿直接回复。\n")
    message.add_attachment(publication.data, maintype="application", subtype="pdf", filename=publication.file_name)
    return message


class SmtpPublisher:
    name = "smtp"
    settings_model = SmtpSettings

    def __init__(self, settings: SmtpSettings | None = None):
        self.settings = settings or SmtpSettings()

    def publish(self, publication: Publication) -> str:
        if (skipped := not_mine(self, publication)) is not None:
            return skipped
        recipient = getattr(publication, "recipient", "") or self.settings.to
        if not recipient:
            raise PublisherError(f"publisher smtp: no address for {publication.file_name} (borrowers.email empty "
                                 "and config/plugins.yaml publishers.settings.smtp.to not set)")
        s = self.settings
        with smtplib.SMTP(s.host, s.port, timeout=s.timeout_seconds) as session:
            if s.starttls:
                session.starttls()
            refused = session.send_message(notice_message(publication, s.sender, recipient))
        if refused:
            raise PublisherError(f"publisher smtp: {recipient} refused: {refused}")
        return f"smtp://{s.host}:{s.port}/{recipient}"
