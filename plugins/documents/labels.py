"""The labelled extraction corpus (tests/corpus/*.yaml): load it and score an extraction against it.

Shared by the corpus tests and the benchmark so both count a figure the same way.
"""
from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any, Callable

import yaml

from .statements import StatementExtraction

CORPUS_ROOT = Path("/work/shared/corpus")


@dataclass(frozen=True)
class Label:
    canonical: str
    scope: str | None
    current: Decimal | None
    prior: Decimal | None
    unit: str
    page: int
    derived: bool = False   # not printed on the page: computed from printed totals (how is said in the YAML)


@dataclass(frozen=True)
class LabelledDocument:
    name: str
    document_type: str
    labels: list[Label]
    period_end: str | None = None
    currency: str | None = None
    path: Path | None = None                   # a real PDF
    statement: dict[str, Any] | None = None    # or a generated statement's spec
    language: str = "zh"                       # the statements' language: zh | en

    @property
    def parent_company(self) -> bool:
        """Labels of the parent company's statements too: extract with parent_company=True."""
        return any(label.scope == "parent" for label in self.labels)


@dataclass(frozen=True)
class Outcome:
    label: Label
    found: bool       # a figure with this canonical key (and scope) was reported
    exact: bool       # current, prior, unit and page all as labelled
    detail: str
    status: str | None = None   # the figure's own check status: checked | derived | unchecked

    @property
    def kind(self) -> str:
        """exact | wrong (reported, not as labelled) | missing (not reported)."""
        return "exact" if self.exact else "wrong" if self.found else "missing"


def _decimal(value: Any) -> Decimal | None:
    return None if value is None else Decimal(str(value))


def _labels(rows: list[dict]) -> list[Label]:
    return [Label(r["canonical"], r.get("scope"), _decimal(r["current"]), _decimal(r["prior"]), r["unit"], int(r["page"]),
                  bool(r.get("derived", False)))
            for r in rows]


def load_corpus(directory: Path, corpus_root: Path = CORPUS_ROOT) -> list[LabelledDocument]:
    """Every labelled document: one YAML per real PDF, and generated.yaml with several specs."""
    docs: list[LabelledDocument] = []
    for path in sorted(directory.glob("*.yaml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        if "documents" in data:
            for d in data["documents"]:
                docs.append(LabelledDocument(d["name"], d["document_type"], _labels(d["figures"]),
                                             d["statement"]["period_end"], "CNY", statement=d["statement"]))
        else:
            docs.append(LabelledDocument(path.stem, data["document_type"], _labels(data["figures"]),
                                         str(data.get("period_end")), data.get("currency"),
                                         path=corpus_root / data["file"],
                                         language=data.get("language", "zh" if path.stem.startswith("cn_") else "en")))
    return docs


def document_bytes(doc: LabelledDocument) -> bytes:
    if doc.path is not None:
        return doc.path.read_bytes()
    from .render import render_document

    return render_document({"kind": "financial_statement", "statement": doc.statement})


def score(doc: LabelledDocument, extraction: StatementExtraction,
          scope: Callable[[str | None], bool] = lambda s: True) -> list[Outcome]:
    """One outcome per labelled figure (of the scopes `scope` accepts): found, and exact (values in the
    document's unit, unit, page)."""
    out = []
    for label in (label for label in doc.labels if scope(label.scope)):
        figure = extraction.figure(label.canonical, label.scope)
        if figure is None:
            out.append(Outcome(label, False, False, "not found"))
            continue
        got = (figure.current, figure.prior, figure.unit, figure.page)
        want = (label.current, label.prior, label.unit, label.page)
        out.append(Outcome(label, True, got == want, "" if got == want else f"got {got}, want {want}",
                           getattr(figure, "status", None)))
    return out
