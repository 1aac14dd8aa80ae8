"""The project's publishers (entry-point group `postloan.publishers`, protocol in plugins/registry.py:
`name`, `publish(publication) -> receipt`), for the notices sent to borrowers (plugins/notices):

* `outbox` (outbox.py, enabled by default): the object store's outbox, `<prefix>/<period>/<file>` in the
  work bucket, where the lender's print-and-post or messaging service picks the notices up;
* `folder` (outbox.py): a folder of the file system;
* `smtp` (smtp.py): e-mail to the borrower, the notice attached.

Each delivers only the publication kinds of its `kinds` setting (by default `collection_notice`): a notice
publisher never mails a management report. Settings come from config/plugins.yaml `publishers.settings`.

`NoticePublication` is a `Publication` that also says whom it is for. `deliver_once` hands each notice to each
publisher unless the ledger shows that publisher already delivered those very bytes, so re-running a month
sends nothing twice.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from plugins.registry import Publication

NOTICE_KIND = "collection_notice"
DELIVERED, ALREADY_DELIVERED, SKIPPED, FAILED = "delivered", "already_delivered", "skipped", "failed"


@dataclass(frozen=True)
class NoticePublication(Publication):
    """A notice as a publication, with its addressee (recipient: the borrower's e-mail, when known)."""
    contract_id: str = ""
    borrower_name: str = ""
    notice_name: str = ""
    recipient: str = ""


class PublisherError(ValueError):
    """A publisher cannot deliver as configured (no store attached, no address); names what to fix."""


class Ledger(Protocol):
    def seen(self, key: str) -> bool: ...

    def mark(self, key: str) -> None: ...


@dataclass
class MemoryLedger:
    """A ledger for one process."""
    keys: set[str] = field(default_factory=set)

    def seen(self, key: str) -> bool:
        return key in self.keys

    def mark(self, key: str) -> None:
        self.keys.add(key)


class StoreLedger:
    """A ledger kept as empty marker objects in the object store's work bucket (`<prefix>/<publisher>/<sha256>`)."""

    def __init__(self, store: Any, prefix: str = "outbox/delivered"):
        self.store, self.prefix = store, prefix.strip("/")

    def seen(self, key: str) -> bool:
        return self.store.exists(self.store.settings.work_bucket, f"{self.prefix}/{key}")

    def mark(self, key: str) -> None:
        self.store.put(self.store.settings.work_bucket, f"{self.prefix}/{key}", b"", "application/octet-stream")


def not_mine(publisher: Any, publication: Publication) -> str | None:
    """The receipt of a publication the publisher does not deliver (its kind is not in `kinds`), else None:
    what the built-ins answer when the report publications hand them a management report."""
    if delivers(publisher, publication):
        return None
    return f"not delivered: {publisher.name} delivers {', '.join(publisher.settings.kinds)}, not {publication.kind}"


def delivers(publisher: Any, publication: Publication) -> bool:
    """Whether `publisher` delivers this kind of publication (its `kinds` setting; a publisher without one: all)."""
    kinds = getattr(getattr(publisher, "settings", None), "kinds", None)
    return kinds is None or publication.kind in kinds


def deliver_once(publishers: Sequence[Any], publications: Sequence[Publication], ledger: Ledger) -> list[dict]:
    """Every publication to every publisher that delivers its kind, unless the ledger has it; one row each
    (publisher, file, sha256, status, receipt). A failure on one notice is recorded and the others go on."""
    rows = []
    for publisher in publishers:
        for item in publications:
            row = {"publisher": publisher.name, "file": item.file_name, "sha256": item.sha256}
            key = f"{publisher.name}/{item.sha256}"
            if not delivers(publisher, item):
                rows.append({**row, "status": SKIPPED, "receipt": f"{item.kind} not in its kinds"})
            elif ledger.seen(key):
                rows.append({**row, "status": ALREADY_DELIVERED, "receipt": ""})
            else:
                try:
                    receipt = publisher.publish(item)
                except Exception as exc:  # an unreachable mailbox must not stop the other notices
                    rows.append({**row, "status": FAILED, "receipt": f"{type(exc).__name__}: {exc}"})
                    continue
                ledger.mark(key)
                rows.append({**row, "status": DELIVERED, "receipt": receipt})
    return rows
