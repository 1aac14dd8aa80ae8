"""Audit bundles: everything behind a loan, a borrower or a published return, in one zip with a manifest.

A bundle holds the archived source documents (as stored, named by their SHA-256), the figures
extracted from them with page references, the classification with its reasons and the provision
calculation (from the work bucket, per month), and the published reports with their manifests.
`manifest.json` lists every file with its SHA-256 and where it came from; `verify_bundle` checks a
bundle offline — no server, no catalog.
"""
from __future__ import annotations

import hashlib
import io
import json
import zipfile
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Callable

import pandas as pd

from plugins.archive.archive import Archive, _suffix
from plugins.archive.catalog import DocumentRecord
from plugins.archive.store import ObjectStore

BUNDLE_FORMAT = 1
# Work-bucket assets exported into a bundle, and the column that ties their rows to the subject.
FIGURE_ASSETS = {"statement_figures_extracted": "sha256", "contract_terms_extracted": "sha256"}
RISK_ASSET = "loan_provisions"


@dataclass
class BundleSubject:
    kind: str  # loan | borrower | return
    target: str  # contract id, borrower id, or "<report_kind>/<period>"

    def describe(self) -> dict:
        return {"kind": self.kind, "target": self.target}


@dataclass
class _Builder:
    files: dict[str, bytes] = field(default_factory=dict)
    entries: list[dict] = field(default_factory=list)

    def add(self, path: str, data: bytes, kind: str, source: dict) -> None:
        if path in self.files:
            return
        self.files[path] = data
        self.entries.append({"path": path, "sha256": hashlib.sha256(data).hexdigest(), "size": len(data),
                             "kind": kind, "source": source})


def build_bundle(archive: Archive, work: ObjectStore, subject: BundleSubject, created_by: str, role: str,
                 mask_row: Callable[[dict], dict] | None = None) -> bytes:
    """The zip for `subject`; `mask_row` masks borrower identifiers in the tables and the manifest."""
    catalog = archive.catalog
    builder = _Builder()
    report_manifests: list[dict] = []
    if subject.kind == "return":
        report_kind, period = subject.target.split("/", 1)
        publications = catalog.find_publications(report_kind, period)
        if not publications:
            raise LookupError(f"no publication of {report_kind} for {period}")
        documents: dict[str, DocumentRecord] = {}
        for manifest_key in sorted({p.manifest_key for p in publications}):
            manifest = archive.manifest(manifest_key)
            report_manifests.append({"key": manifest_key, "manifest": manifest})
            for item in manifest["inputs"].get("documents", []):
                if item.get("class") == "previous_classification":
                    continue  # a publication of its own (loan_classification), not a catalogued document
                record = catalog.document(item["sha256"])
                if record is None:
                    raise LookupError(f"input {item['sha256']} of {manifest_key} is not in the catalog")
                documents[record.sha256] = record
        contracts = None  # the whole book
    else:
        column = {"loan": "contract_id", "borrower": "borrower_id"}[subject.kind]
        found = catalog.find_documents(**{column: subject.target})
        if subject.kind == "borrower":  # and every document of the borrower's contracts
            for contract in {d.contract_id for d in found if d.contract_id}:
                found += catalog.find_documents(contract_id=contract)
        documents = {d.sha256: d for d in found}
        if not documents:
            raise LookupError(f"no archived document for {subject.kind} {subject.target}")
        contracts = sorted({d.contract_id for d in documents.values() if d.contract_id})
        for publication in catalog.find_publications():  # reports that were built from these documents
            manifest = archive.manifest(publication.manifest_key)
            if {i["sha256"] for i in manifest["inputs"].get("documents", [])} & set(documents):
                if all(m["key"] != publication.manifest_key for m in report_manifests):
                    report_manifests.append({"key": publication.manifest_key, "manifest": manifest})
        publications = [p for p in catalog.find_publications()
                        if p.manifest_key in {m["key"] for m in report_manifests}]

    doc_rows = []
    for record in sorted(documents.values(), key=lambda d: (d.period or "", d.doc_class, d.sha256)):
        data = archive.fetch(record.sha256)
        path = f"documents/{record.sha256}{_suffix(record.original_name or '')}"
        builder.add(path, data, "document", {"bucket": archive.bucket, "key": record.object_key,
                                             "version_id": record.version_id})
        row = {"sha256": record.sha256, "path": path, "doc_class": record.doc_class, "status": record.status,
               "borrower_id": record.borrower_id, "contract_id": record.contract_id, "period": record.period,
               "original_name": record.original_name, "reason": record.reason}
        doc_rows.append(mask_row(row) if mask_row else row)

    for m in report_manifests:  # as stored: its key names its own SHA-256
        builder.add(f"reports/{m['key'].split('manifests/', 1)[1]}", archive.store.get(archive.bucket, m["key"]),
                    "report_manifest", {"bucket": archive.bucket, "key": m["key"]})
    for p in publications:
        data = archive.store.get(archive.bucket, p.object_key, p.version_id)
        builder.add(f"reports/{p.report_kind}/{p.period}/{p.file_name}", data, "report",
                    {"bucket": archive.bucket, "key": p.object_key, "version_id": p.version_id,
                     "manifest": p.manifest_key})

    months = sorted({d.period for d in documents.values() if d.period and len(d.period) == 7})
    for month in months:
        for asset, column in FIGURE_ASSETS.items():
            frame = _work_table(work, asset, month)
            if frame is not None:
                frame = frame[frame[column].isin(documents)]
                _add_table(builder, f"figures/{asset}_{month}.csv", frame, work, asset, month, mask_row)
        frame = _work_table(work, RISK_ASSET, month)
        if frame is not None:
            if contracts is not None:
                frame = frame[frame["contract_id"].isin(contracts)]
            _add_table(builder, f"risk/{RISK_ASSET}_{month}.csv", frame, work, RISK_ASSET, month, mask_row)

    manifest = {
        "bundle_format": BUNDLE_FORMAT,
        "subject": ({"kind": "borrower", "target": mask_row({"borrower_id": subject.target})["borrower_id"]}
                    if mask_row and subject.kind == "borrower" else subject.describe()),
        "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"), "created_by": created_by,
        "role": role, "identifiers_masked": mask_row is not None,
        "note": "documents are the archived originals, byte for byte; masking applies to tables and this manifest",
        "documents": doc_rows,
        # a return's bundle must hold every input its manifest names; a loan's holds only its own documents
        "report_inputs": sorted({i["sha256"] for m in report_manifests for i in m["manifest"]["inputs"].get("documents", [])})
        if subject.kind == "return" else [],
        "files": sorted(builder.entries, key=lambda e: e["path"]),
    }
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("manifest.json", json.dumps(manifest, ensure_ascii=False, indent=2, sort_keys=True))
        for path in sorted(builder.files):
            zf.writestr(path, builder.files[path])
    return out.getvalue()


def _work_table(work: ObjectStore, asset: str, month: str) -> pd.DataFrame | None:
    key = f"{asset}/{month}"  # WorkStoreIOManager's layout: <asset path>/<partition>
    if not work.exists(work.settings.work_bucket, key):
        return None
    return pd.read_parquet(io.BytesIO(work.get(work.settings.work_bucket, key)))


def _add_table(builder: _Builder, path: str, frame: pd.DataFrame, work: ObjectStore, asset: str, month: str,
               mask_row: Callable[[dict], dict] | None) -> None:
    if mask_row is not None and len(frame):
        frame = pd.DataFrame([mask_row(row) for row in frame.to_dict("records")], columns=frame.columns)
    builder.add(path, frame.to_csv(index=False).encode("utf-8"), "table",
                {"bucket": work.settings.work_bucket, "key": f"{asset}/{month}", "rows": len(frame)})


@dataclass
class BundleVerification:
    ok: bool
    files_checked: int
    problems: list[str]
    manifest_sha256: str


def verify_bundle(data: bytes) -> BundleVerification:
    """Check a bundle with nothing but itself: every listed file present with its hash, nothing unlisted,
    every document's content matching the hash it is named by, every report matching its manifest's
    output hash, and every input a report manifest names present in the bundle."""
    problems: list[str] = []
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile as exc:
        return BundleVerification(False, 0, [f"not a zip file: {exc}"], "")
    with zf:
        names = set(zf.namelist())
        if "manifest.json" not in names:
            return BundleVerification(False, 0, ["manifest.json is missing"], "")
        manifest_bytes = zf.read("manifest.json")
        manifest = json.loads(manifest_bytes)
        listed = {e["path"]: e for e in manifest["files"]}
        for extra in sorted(names - set(listed) - {"manifest.json"}):
            problems.append(f"{extra}: in the bundle but not in its manifest")
        hashes: dict[str, str] = {}
        for path, entry in sorted(listed.items()):
            if path not in names:
                problems.append(f"{path}: listed in the manifest but missing")
                continue
            actual = hashlib.sha256(zf.read(path)).hexdigest()
            hashes[path] = actual
            if actual != entry["sha256"]:
                problems.append(f"{path}: SHA-256 {actual} does not match the manifest's {entry['sha256']}")
            if entry["kind"] == "document" and not path.split("/")[-1].startswith(actual):
                problems.append(f"{path}: content hashes to {actual}, not the hash it is archived under")
        documents = {p.split("/")[-1][:64] for p, e in listed.items()
                     if e["kind"] == "document" and hashes.get(p) == e["sha256"]}
        required = set(manifest.get("report_inputs", []))
        if manifest["subject"]["kind"] == "return":  # from the report manifests themselves, not only the list
            for path, entry in listed.items():
                if entry["kind"] == "report_manifest" and path in names:
                    required |= {i["sha256"] for i in json.loads(zf.read(path))["inputs"].get("documents", [])}
        for sha in sorted(required):
            if sha not in documents:
                problems.append(f"input {sha} named by a report manifest is not in the bundle")
        for path, entry in listed.items():
            if entry["kind"] != "report_manifest" or path not in names:
                continue
            report = json.loads(zf.read(path))
            for name, output in report.get("outputs", {}).items():
                matching = [p for p, e in listed.items() if e["kind"] == "report" and p.endswith("/" + name)
                            and hashes.get(p) == output["sha256"]]
                if not matching:
                    problems.append(f"report {name} of {path} (SHA-256 {output['sha256'][:12]}…) is not in the bundle")
    return BundleVerification(not problems, len(listed), problems, hashlib.sha256(manifest_bytes).hexdigest())
