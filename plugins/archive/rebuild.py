"""Rebuild the catalog from the object store alone: the store is the source of truth.

Each key's first version is read (the archive never writes a key twice; a later version is an
overwrite attempt, reported and ignored). Documents and publications come from their object metadata
and object lock, legal holds from their archived placement and release records, the access log from
its archived exports. Not rebuilt: access-log entries made after the last export, and audit runs
(operational state).
"""
from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Callable

from plugins.archive.access import entries_from_export
from plugins.archive.archive import Archive, sha256_hex
from plugins.archive.catalog import Catalog
from plugins.archive.holds import hold_from_records
from plugins.archive.objectmeta import decode, document_from_object, publication_from_object


@dataclass
class RebuildReport:
    documents: int = 0
    publications: int = 0
    holds: int = 0
    access_entries: int = 0
    exports: int = 0
    overwritten: list[str] = field(default_factory=list)  # keys with more than one version
    unreadable: list[str] = field(default_factory=list)  # objects whose metadata predates the format

    def as_dict(self) -> dict:
        return {"documents": self.documents, "publications": self.publications, "holds": self.holds,
                "access_entries": self.access_entries, "exports": self.exports,
                "overwritten": self.overwritten, "unreadable": self.unreadable}


def rebuild_catalog(archive: Archive, target: Catalog,
                    progress: Callable[[int, int, str], None] = lambda i, n, key: None) -> RebuildReport:
    """Fill the empty catalog `target` from the archive bucket of `archive`."""
    store, bucket = archive.store, archive.bucket
    versions: dict[str, list[str | None]] = defaultdict(list)
    for version in store.versions(bucket, archive.root):
        versions[version.key].append(version.version_id)  # newest first, per the S3 spec
    report = RebuildReport()
    hold_events: dict[str, dict[str, tuple[dict, str, str]]] = defaultdict(dict)
    keys = sorted(versions)
    for index, key in enumerate(keys, start=1):
        progress(index, len(keys), key)
        if len(versions[key]) > 1:
            report.overwritten.append(key)
        original = versions[key][-1]
        top = key[len(archive.root):].split("/", 1)[0]
        if top in ("documents", "quarantine"):
            record = document_from_object(store.info(bucket, key, original))
            if record is None:
                report.unreadable.append(key)
            elif target.add_document(record):
                report.documents += 1
        elif top == "reports":
            publication = publication_from_object(store.info(bucket, key, original))
            if publication is None:
                report.unreadable.append(key)
            elif target.add_publication(publication):
                report.publications += 1
        elif top == "holds":
            data = store.get(bucket, key, original)
            body = json.loads(data)
            hold_events[body["hold_id"]][body["event"]] = (body, key, sha256_hex(data))
        elif top == "access-log":
            info = store.info(bucket, key, original)
            data = store.get(bucket, key, original)
            entries = entries_from_export(data)
            target.insert_access_entries(entries)
            target.add_export(key, entries[0].id, entries[-1].id, len(entries), sha256_hex(data), original,
                              decode(info.metadata, "exported-at") or "")
            report.access_entries += len(entries)
            report.exports += 1
        # manifests/ are referenced by publications; anything else is not the archive's and is left alone
    for hold_id, events in sorted(hold_events.items()):
        if "placed" not in events:
            report.unreadable.append(f"holds/{hold_id}/ (release without placement)")
            continue
        released = events.get("released")
        target.add_hold(hold_from_records(*events["placed"], *(released or (None, None, None))))
        report.holds += 1
    return report


def catalog_differences(live: Catalog, rebuilt: Catalog) -> dict[str, dict[str, list]]:
    """Rows only in one catalog or differing, per rebuilt table; empty when they are equal."""
    a, b = live.dump(), rebuilt.dump()
    out = {}
    for table in a:
        only_live = [r for r in a[table] if r not in b[table]]
        only_rebuilt = [r for r in b[table] if r not in a[table]]
        if only_live or only_rebuilt:
            out[table] = {"only_live": only_live, "only_rebuilt": only_rebuilt}
    return out
