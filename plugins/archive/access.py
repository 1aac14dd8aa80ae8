"""Who may do what with the archive, what they see, and the append-only record of every access.

A session binds an archive to a person, their role and the reason for looking. Every lookup and
download goes through it and is written to the access log before the answer is returned — refused
attempts too. Roles that do not need borrower identifiers see them masked (config/access.yaml).

The role is not taken on a caller's word: `ArchiveSession.authenticated` (what the command line uses)
takes it from the S3 credentials the archive's store authenticates with, by their access key
(`authenticated_role`), and each log entry names that access key. The object store itself refuses
whatever that identity may not do (plugins/archive/identities.py); the checks here say why first and log it.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from datetime import date, datetime, timezone
from typing import Any

from pathlib import Path

from plugins.archive.archive import Archive, retain_until, sha256_hex
from plugins.archive.catalog import GENESIS_HASH, AccessEntry, DocumentRecord, access_entry_hash
from plugins.archive.identities import IDENTITIES_ENV, identity_map_path, role_of_access_key
from plugins.archive.store import S3Settings
from plugins.config import Access, Role


class AccessDenied(PermissionError):
    """The role may not do this, or the request lacks a reason."""


def authenticated_role(settings: S3Settings, identity_map: Path | None = None) -> str:
    """The role whose S3 identity the credentials in use are: what the object store will let this caller do,
    and so what the access log records (not a role the caller names). Looked up by access key in the identity
    map: the local server's credentials file, or the deployment's $POSTLOAN_S3_IDENTITIES."""
    path = identity_map or identity_map_path()
    role = role_of_access_key(settings.access_key, path)
    if role is None:
        key = f"the S3 access key {settings.access_key}" if settings.access_key else "no S3 access key"
        raise AccessDenied(f"{key} is not a role's identity ({path} names none such): use a role's "
                           "credentials (`postloan s3 credentials ROLE` prints the local server's), or set "
                           f"{IDENTITIES_ENV} to the file naming the role of each of your access keys")
    return role


def mask_value(value: str | None) -> str | None:
    """Keep enough to tell values apart, hide the identity: B0001 -> B**01, 张三丰 -> 张**,
    110101199001011234 -> 110101********1234."""
    if value is None or value == "":
        return value
    text = str(value)
    if len(text) >= 15 and text[:6].isdigit():  # resident identity number (身份证) or similar
        return text[:6] + "*" * (len(text) - 10) + text[-4:]
    if not text.isascii():  # a personal or company name
        return text[0] + "*" * (len(text) - 1)
    if len(text) <= 3:
        return "*" * len(text)
    return text[0] + "*" * (len(text) - 3) + text[-2:]


class AccessPolicy:
    def __init__(self, access: Access):
        self.access = access

    def role(self, name: str) -> Role:
        if name not in self.access.roles:
            raise AccessDenied(f"unknown role {name!r}: access.yaml defines {', '.join(self.access.roles)}")
        return self.access.roles[name]

    def allows(self, role: str, action: str) -> bool:
        return action in self.role(role).actions

    def masks(self, role: str) -> bool:
        return not self.role(role).see_identifiers

    def mask_row(self, row: dict[str, Any]) -> dict[str, Any]:
        """Mask identifier fields, and any unmasked identifier repeated in a file name."""
        out = dict(row)
        replacements = {}
        for field in self.access.masked_fields:
            if field in out and out[field] not in (None, ""):
                masked = mask_value(out[field])
                replacements[str(out[field])] = masked
                out[field] = masked
        for field in ("original_name", "file_name", "name"):
            if isinstance(out.get(field), str):
                for plain, masked in replacements.items():
                    out[field] = out[field].replace(plain, masked)
        return out


class ArchiveSession:
    """The archive as one person in one role sees it, for one stated reason; every call is logged.

    `access_key`: the S3 identity the session's store authenticates as (`authenticated`); each log entry
    then names it, beside the role that identity is."""

    def __init__(self, archive: Archive, policy: AccessPolicy, actor: str, role: str, reason: str,
                 access_key: str | None = None):
        policy.role(role)  # unknown roles fail here
        if not reason or not reason.strip():
            raise AccessDenied("every access to the archive needs a reason (--reason)")
        self.archive, self.policy, self.actor, self.role, self.reason = archive, policy, actor, role, reason
        self.access_key = access_key

    @classmethod
    def authenticated(cls, archive: Archive, policy: AccessPolicy, actor: str, reason: str,
                      identity_map: Path | None = None) -> "ArchiveSession":
        """A session in the role of the credentials the archive's store uses (`authenticated_role`)."""
        settings = archive.store.settings
        return cls(archive, policy, actor, authenticated_role(settings, identity_map), reason,
                   access_key=settings.access_key)

    @property
    def masked(self) -> bool:
        return self.policy.masks(self.role)

    def require(self, action: str, target: str) -> None:
        if not self.policy.allows(self.role, action):
            self.log(f"denied:{action}", target, {})
            raise AccessDenied(f"role {self.role} may not {action} (access.yaml)")

    def log(self, action: str, target: str, detail: dict) -> AccessEntry:
        if self.access_key:
            detail = {**detail, "s3_access_key": self.access_key}
        return self.archive.catalog.append_access(self.actor, self.role, action, target, self.reason, detail)

    def view(self, record: DocumentRecord) -> dict[str, Any]:
        row = asdict(record)
        return self.policy.mask_row(row) if self.masked else row

    def find(self, **criteria: Any) -> list[dict[str, Any]]:
        target = json.dumps({k: v for k, v in criteria.items() if v is not None}, ensure_ascii=False, sort_keys=True)
        self.require("find", target)
        records = self.archive.catalog.find_documents(**criteria)
        self.log("find", target, {"results": len(records), "sha256": [r.sha256 for r in records[:100]]})
        return [self.view(r) for r in records]

    def get(self, sha256: str) -> bytes:
        self.require("get", sha256)
        record = self.archive._record(sha256)
        data = self.archive.fetch(record.sha256)
        self.log("get", record.sha256, {"object_key": record.object_key, "version_id": record.version_id,
                                        "bytes": len(data), "hash_ok": sha256_hex(data) == record.sha256})
        return data

    def verify(self, sha256: str) -> tuple[bool, str]:
        self.require("verify", sha256)
        ok, actual = self.archive.verify(sha256)
        self.log("verify", sha256, {"ok": ok, "actual": actual})
        return ok, actual

    def log_entries(self, after_id: int = 0, actor: str | None = None, target: str | None = None) -> list[AccessEntry]:
        self.require("read_log", target or "*")
        entries = self.archive.catalog.access_entries(after_id, actor, target)
        self.log("read_log", target or "*", {"entries": len(entries)})
        return entries


def verify_access_chain(entries: list[AccessEntry], prev_hash: str = GENESIS_HASH) -> list[str]:
    """Problems in a run of consecutive entries: a broken link or an entry whose hash does not match."""
    problems = []
    for entry in entries:
        if entry.prev_hash != prev_hash:
            problems.append(f"entry {entry.id}: links to {entry.prev_hash[:12]}…, the previous entry is {prev_hash[:12]}…")
        expected = access_entry_hash(entry.prev_hash, entry.at, entry.actor, entry.role, entry.action, entry.target,
                                     entry.reason, entry.detail)
        if expected != entry.entry_hash:
            problems.append(f"entry {entry.id}: content does not match its hash")
        prev_hash = entry.entry_hash
    return problems


def export_access_log(archive: Archive) -> dict | None:
    """Archive the access-log entries not yet exported as one locked JSON-lines object; None if none are new.

    The export is the log's anchor: its last entry's hash (metadata `head-hash`) is in the WORM archive, so a
    chain rewritten afterwards in the database — even consistently, after dropping the append-only triggers —
    no longer matches it (`verify_against_anchors`)."""
    exports = archive.catalog.exports()
    after = exports[-1]["last_id"] if exports else 0
    entries = archive.catalog.access_entries(after_id=after)
    if not entries:
        return None
    data = "".join(json.dumps(asdict(e), ensure_ascii=False, sort_keys=True) + "\n" for e in entries).encode()
    digest = sha256_hex(data)
    now = datetime.now(timezone.utc)
    key = f"{archive.root}access-log/{entries[0].id:012d}-{entries[-1].id:012d}.jsonl"
    exported_at = now.isoformat(timespec="seconds")
    stored = archive.store.put_if_absent(
        archive.bucket, key, data, "application/x-ndjson",
        {"sha256": digest, "first-id": str(entries[0].id), "last-id": str(entries[-1].id),
         "entries": str(len(entries)), "exported-at": exported_at, "head-hash": entries[-1].entry_hash,
         "prev-hash": entries[0].prev_hash},
        retain_until=retain_until(archive.retention, "access_log", now.date(), None, None),
        lock_mode=archive.retention.mode)
    if stored is None:  # a concurrent export of the same entries won the key: it is anchored already
        return None
    archive.catalog.add_export(key, entries[0].id, entries[-1].id, len(entries), digest, stored.version_id, exported_at)
    return {"object_key": key, "entries": len(entries), "first_id": entries[0].id, "last_id": entries[-1].id,
            "sha256": digest, "head_hash": entries[-1].entry_hash}


@dataclass
class AnchorCheck:
    """The live log against its archived exports (anchors)."""
    exports: int
    anchored_entries: int
    last_anchored_id: int
    unanchored_entries: int  # entries after the last export: only the chain itself vouches for them
    problems: list[str]

    def summary(self) -> str:
        if not self.exports:
            return "no archived export yet: nothing anchors the chain (`postloan archive log --export`)"
        return (f"{self.anchored_entries} entries match {self.exports} archived export(s) up to entry "
                f"{self.last_anchored_id}; {self.unanchored_entries} later entries not yet anchored")


def verify_against_anchors(archive: Archive, entries: list[AccessEntry]) -> AnchorCheck:
    """Compare the log's entries with the exports in the archive (listed from the store, not the catalog, so
    a database edit cannot hide one): every exported entry must still be in the log with the same content
    and hash. Each export's first version is the evidence; its bytes must hash to its recorded SHA-256."""
    live = {e.id: e for e in entries}
    prefix = f"{archive.root}access-log/"
    first_versions: dict[str, str | None] = {}
    for version in archive.store.versions(archive.bucket, prefix):  # newest first per key: keep the last seen
        if version.key.endswith(".jsonl"):
            first_versions[version.key] = version.version_id
    problems: list[str] = []
    anchored: set[int] = set()
    for key, version_id in sorted(first_versions.items()):
        info = archive.store.info(archive.bucket, key, version_id)
        data = archive.store.get(archive.bucket, key, version_id)
        if info is not None and info.metadata.get("sha256") not in (None, sha256_hex(data)):
            problems.append(f"export {key}: its bytes do not match the SHA-256 recorded with it")
            continue
        for exported in entries_from_export(data):
            anchored.add(exported.id)
            now = live.get(exported.id)
            if now is None:
                problems.append(f"entry {exported.id}: in the archived export {key} but gone from the log")
            elif asdict(now) != asdict(exported):
                problems.append(f"entry {exported.id}: differs from the archived export {key} (the chain was "
                                "rewritten after it was exported)")
    last = max(anchored, default=0)
    return AnchorCheck(exports=len(first_versions), anchored_entries=len(anchored), last_anchored_id=last,
                       unanchored_entries=sum(1 for i in live if i > last), problems=problems)


def entries_from_export(data: bytes) -> list[AccessEntry]:
    return [AccessEntry(**json.loads(line)) for line in data.decode().splitlines() if line.strip()]
