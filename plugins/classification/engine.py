"""Apply the rules to a whole loan book at once and explain every verdict.

The facts frame (facts.py) is registered in DuckDB as `book`; every rule's query
(rules.py) adds its findings; the verdict of a loan is the worst floor any finding
sets, from a base assessment of 正常, with every finding as its reason. Then the
cross-institution and the in-house debtor-level rules, which look across a
debtor's claims. The verdict frame carries, per loan: tier, tier_before_floors,
rules_fired, reasons (text), reasons_json (the findings) and notes.
"""
from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from plugins.classification.facts import facts_from_loans
from plugins.classification.rules import (
    TIER_NAMES,
    ClassificationRule,
    Finding,
    LoanFacts,
    LoanRule,
)
from plugins.config import Classification

NON_PERFORMING = (3, 4, 5)
VERDICT_COLUMNS = ["contract_id", "tier", "tier_before_floors", "rules_fired", "reasons", "reasons_json", "notes"]
CROSS_INSTITUTION_ABSENT = "cross_institution_20pct: external input absent, rule not evaluated"
CROSS_INSTITUTION = ("cross_institution_overdue_share",
                     "2023 Measures art. 8: > 20% of a debtor's debts at all institutions > 90 days overdue")
DEBTOR_NPL_SHARE = ("debtor_npl_share", "2023 Measures art. 8: non-performing share of a debtor's claims")

# The reason text of a finding, written in SQL; Finding.describe writes the same in Python.
_TIER_LIST = "[" + ", ".join(f"'{TIER_NAMES[t]}'" for t in sorted(TIER_NAMES)) + "]"
_DESCRIBE = (f"rule || ' → ' || list_extract({_TIER_LIST}, floor) || ' (' || array_to_string(list_transform("
             "json_keys(facts), lambda k: k || '=' || coalesce(json_extract_string(facts, '$.\"' || k || '\"'), "
             "'null')), ', ') || ')'")
_AS_JSON = "CAST(json_object('article', article, 'facts', json(facts), 'floor', floor, 'rule', rule) AS VARCHAR)"


@dataclass(frozen=True)
class Verdict:
    contract_id: str
    tier_before_floors: int
    tier: int
    findings: tuple[Finding, ...]
    notes: tuple[str, ...] = ()  # what the verdict could not consider (e.g. an absent external input)

    @property
    def reasons_json(self) -> str:
        return "[" + ",".join(f.as_json() for f in self.findings) + "]"

    @property
    def reason_text(self) -> str:
        return "; ".join(f.describe() for f in self.findings)

    @classmethod
    def from_row(cls, row: Mapping) -> "Verdict":
        findings = tuple(Finding(f["rule"], f["article"], int(f["floor"]), f["facts"])
                         for f in json.loads(row["reasons_json"]))
        notes = tuple(n for n in str(row.get("notes", "")).split("; ") if n)
        return cls(row["contract_id"], int(row["tier_before_floors"]), int(row["tier"]), findings, notes)

    def row(self) -> dict:
        return {"contract_id": self.contract_id, "tier": self.tier, "tier_before_floors": self.tier_before_floors,
                "rules_fired": ",".join(f.rule for f in self.findings), "reasons": self.reason_text,
                "reasons_json": self.reasons_json, "notes": "; ".join(self.notes)}


# ------------------------------------------------------------------ per-loan rules, whole book

def _sql_text(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _loan_rule_findings(facts: pd.DataFrame, rule: LoanRule, config: Classification) -> pd.DataFrame:
    """A per-loan (third-party) rule over the book, loan by loan: the slow path, for simple plugins."""
    rows = []
    for record in facts.to_dict("records"):
        loan = LoanFacts(**{k: (None if _missing(v) else v) for k, v in record.items() if k in _LOAN_FIELDS})
        found = rule.evaluate(_as_loan(loan), config)
        if found is not None:
            rows.append({"contract_id": loan.contract_id, "floor": int(found.floor),
                         "facts": json.dumps(found.facts, ensure_ascii=False, default=str)})
    return pd.DataFrame(rows, columns=["contract_id", "floor", "facts"]).astype({"floor": "int64"})


_LOAN_FIELDS = set(LoanFacts.__dataclass_fields__)


def _missing(value) -> bool:
    return value is None or (not isinstance(value, (str, bool)) and pd.isna(value))


def _as_loan(loan: LoanFacts) -> LoanFacts:
    """Python values as a per-loan rule expects them: dates as date, ecl_ratio as Decimal."""
    def day(v):
        return v.date() if isinstance(v, pd.Timestamp) else v
    return LoanFacts(**{**loan.__dict__, "as_of": day(loan.as_of), "restructured_on": day(loan.restructured_on),
                        "extended_on": day(loan.extended_on),
                        "ecl_ratio": Decimal(loan.ecl_ratio) if loan.ecl_ratio is not None else None})


def _rule_queries(con: duckdb.DuckDBPyConnection, facts: pd.DataFrame, config: Classification,
                  rules: Sequence[ClassificationRule | LoanRule]) -> list[str]:
    queries = []
    for order, rule in enumerate(rules):
        if hasattr(rule, "sql"):
            source = f"({rule.sql(config)})"
        else:
            con.register(f"loan_rule_{order}", _loan_rule_findings(facts, rule, config))
            source = f"loan_rule_{order}"
        queries.append(f"SELECT contract_id, CAST(floor AS INTEGER) AS floor, CAST(facts AS VARCHAR) AS facts, "
                       f"{order} AS ord, {_sql_text(rule.name)} AS rule, {_sql_text(rule.article)} AS article "
                       f"FROM {source}")
    return queries


def _cross_institution_query(con: duckdb.DuckDBPyConnection, config: Classification, order: int,
                             overdue_share: Mapping[str, Decimal]) -> str:
    """Non-retail debtors with more than the configured share of their debts at all institutions > 90 days
    overdue (external data, e.g. the credit bureau): every claim here is at least the configured tier."""
    threshold = config.cross_institution_overdue_share
    above = pd.DataFrame([(b, f"{s:.4f}") for b, s in sorted(overdue_share.items()) if s > threshold],
                         columns=["borrower_id", "share_text"])
    con.register("overdue_share_above", above)
    name, article = CROSS_INSTITUTION
    return (f"SELECT contract_id, {config.cross_institution_floor_tier} AS floor, CAST(json_object("
            f"'borrower_id', borrower_id, 'overdue_share', share_text, 'threshold', {_sql_text(str(threshold))}) "
            f"AS VARCHAR) AS facts, {order} AS ord, {_sql_text(name)} AS rule, {_sql_text(article)} AS article "
            f"FROM book JOIN overdue_share_above USING (borrower_id) WHERE borrower_kind = 'corporate'")


def _verdicts(facts: pd.DataFrame, config: Classification, rules: Sequence[ClassificationRule | LoanRule],
              overdue_share: Mapping[str, Decimal] | None, cross_institution: bool) -> pd.DataFrame:
    con = duckdb.connect()
    try:
        con.register("book", facts.assign(_row=np.arange(len(facts), dtype="int64")))
        queries = _rule_queries(con, facts, config, rules)
        if cross_institution and overdue_share is not None:
            queries.append(_cross_institution_query(con, config, len(rules), overdue_share))
        findings = " UNION ALL ".join(queries) if queries else \
            "SELECT NULL::VARCHAR contract_id, NULL::INTEGER floor, NULL::VARCHAR facts, 0 ord, '' rule, '' article WHERE FALSE"
        # The reasons are aggregated for the loans with findings only, then joined back to the book by
        # position (Arrow, no row-wise Python); a loan without findings keeps the base verdict.
        # One ordered list per contract (one sort), then its three texts, rather than three ordered aggregates.
        found = con.sql(f"""
            WITH findings AS ({findings}),
            grouped AS (
                SELECT contract_id, max(floor) AS top,
                       list(struct_pack(r := rule, d := {_DESCRIBE}, j := {_AS_JSON}) ORDER BY ord) AS f
                FROM findings WHERE contract_id IS NOT NULL GROUP BY contract_id)
            SELECT contract_id,
                   CAST(greatest(1, coalesce(top, 1)) AS BIGINT) AS tier,
                   coalesce(array_to_string(list_transform(f, lambda x: x.r), ','), '') AS rules_fired,
                   coalesce(array_to_string(list_transform(f, lambda x: x.d), '; '), '') AS reasons,
                   '[' || coalesce(array_to_string(list_transform(f, lambda x: x.j), ','), '') || ']'
                       AS reasons_json
            FROM grouped""").to_arrow_table()
        absent_note = CROSS_INSTITUTION_ABSENT if cross_institution and overdue_share is None else ""
    finally:
        con.close()
    return _verdict_frame(facts, found, absent_note)


def _verdict_frame(facts: pd.DataFrame, found: pa.Table, absent_note: str) -> pd.DataFrame:
    """The verdict frame (VERDICT_COLUMNS) of `facts`, in its order, from the aggregated findings per contract."""
    ids = pa.array(facts["contract_id"], type=pa.string(), from_pandas=True)
    at = pc.index_in(ids, value_set=found["contract_id"].combine_chunks().cast(pa.string()))
    has = at.is_valid().to_numpy(zero_copy_only=False)
    rows = at.to_numpy(zero_copy_only=False)
    tier = np.ones(len(facts), dtype=np.int64)
    tier[has] = found["tier"].to_numpy()[rows[has].astype(np.int64)]

    def text(column: str, none: str) -> pd.Series:
        return pc.fill_null(pc.take(found[column].cast(pa.string()), at), none).to_pandas()

    corporate = pc.fill_null(pc.equal(pa.array(facts["borrower_kind"], type=pa.string(), from_pandas=True),
                                      "corporate"), False)
    notes = pc.if_else(corporate, absent_note, "")
    return pd.DataFrame({
        "contract_id": ids.to_pandas(), "tier": tier, "tier_before_floors": np.ones(len(facts), dtype=np.int64),
        "rules_fired": text("rules_fired", ""), "reasons": text("reasons", ""),
        "reasons_json": text("reasons_json", "[]"), "notes": notes.to_pandas()})


# ------------------------------------------------------------------ debtor-level rules

def _append_findings(verdicts: pd.DataFrame, index: pd.Index, rule: str, describe: pd.Series, as_json: pd.Series,
                     tier: int) -> pd.DataFrame:
    """The verdict frame with a finding of `rule` added to the rows `index` (its text `describe` and JSON
    `as_json` per row, in the order of `index`) and their tier set to `tier`. The string columns are rebuilt
    in Arrow (the changed rows computed, then taken into place), never written into row by row."""
    if len(index) == 0:
        return verdicts
    at = verdicts.index.get_indexer(index)
    tiers = verdicts["tier"].to_numpy(copy=True)
    tiers[at] = tier
    describe = pa.array(describe.astype(str).to_numpy(dtype=object), type=pa.string())
    as_json = pa.array(as_json.astype(str).to_numpy(dtype=object), type=pa.string())

    def rows(column: str) -> pa.Array:
        return pc.take(_strings(verdicts[column]), pa.array(at)).cast(pa.string())  # the few changed rows

    fired, reasons, found = rows("rules_fired"), rows("reasons"), rows("reasons_json")
    new_fired = pc.if_else(pc.equal(fired, ""), rule, pc.binary_join_element_wise(fired, rule, ","))
    new_reasons = pc.if_else(pc.equal(reasons, ""), describe, pc.binary_join_element_wise(reasons, describe, "; "))
    opened = pc.if_else(pc.equal(found, "[]"), "[", pc.binary_join_element_wise(
        pc.utf8_slice_codeunits(found, 0, -1), "", ","))
    new_found = pc.binary_join_element_wise(opened, as_json, "]", "")
    return verdicts.assign(tier=tiers, rules_fired=_with_rows(verdicts["rules_fired"], at, new_fired),
                           reasons=_with_rows(verdicts["reasons"], at, new_reasons),
                           reasons_json=_with_rows(verdicts["reasons_json"], at, new_found))


def _strings(column: pd.Series) -> pa.Array:
    strings = pa.array(column.array, type=pa.large_string(), from_pandas=True)  # large: no 2 GiB cap
    return strings.combine_chunks() if isinstance(strings, pa.ChunkedArray) else strings


def _with_rows(column: pd.Series, at: np.ndarray, values: pa.Array) -> pd.Series:
    """`column` with the rows at positions `at` replaced by `values` (one Arrow take, no per-row writes)."""
    combined = pa.concat_arrays([_strings(column), values.cast(pa.large_string())])
    source = np.arange(len(column), dtype=np.int64)
    source[at] = len(column) + np.arange(len(at), dtype=np.int64)
    return pd.Series(combined.take(pa.array(source)).to_pandas(), index=column.index, name=column.name)


def apply_debtor_rule(verdicts: pd.DataFrame, facts: pd.DataFrame, config: Classification) -> pd.DataFrame:
    """Non-retail debtors: above the configured share of claims non-performing, all claims are.

    Share is measured by balance, compared exactly (integer cross-multiplication); the rule raises performing
    claims of such a debtor to 次级 and records the share that triggered it. `verdicts` is in `facts` order.
    The sums run on integer debtor codes over the whole book; the text of a finding is written once per
    debtor with a claim to raise.
    """
    corporate = np.flatnonzero((facts["borrower_kind"] == "corporate").to_numpy(dtype=bool, na_value=False))
    if not len(corporate):
        return verdicts
    encoded = pc.dictionary_encode(pc.take(_strings(facts["borrower_id"]), pa.array(corporate)))
    debtor = pc.fill_null(encoded.indices, -1).to_numpy(zero_copy_only=False)
    borrowers = encoded.dictionary.to_pylist()
    known = debtor >= 0  # a claim without a borrower_id belongs to no debtor
    corporate, debtor = corporate[known], debtor[known]
    balance = facts["balance_cents"].to_numpy()[corporate].astype(np.int64, copy=False)
    non_performing = np.isin(verdicts["tier"].to_numpy()[corporate], NON_PERFORMING)
    total = np.zeros(len(borrowers), dtype=np.int64)
    np.add.at(total, debtor, balance)
    npl = np.zeros(len(borrowers), dtype=np.int64)
    np.add.at(npl, debtor[non_performing], balance[non_performing])
    numerator, denominator = config.debtor_npl_share.as_integer_ratio()
    if len(total) and int(total.max()) * max(numerator, denominator) >= 2**62:  # exact beyond int64 too
        total, npl = total.astype(object), npl.astype(object)
    above = (total > 0) & (npl > 0) & (npl * denominator > total * numerator)
    raise_ = above[debtor] & ~non_performing
    if not raise_.any():
        return verdicts
    raised_debtors = debtor[raise_]
    name, article = DEBTOR_NPL_SHARE
    describe, as_json = {}, {}
    for code in np.unique(raised_debtors).tolist():
        b, n, t = borrowers[code], int(npl[code]), int(total[code])
        finding = Finding(name, article, 3, {"borrower_id": b, "npl_share": f"{Decimal(n) / Decimal(t):.4f}",
                                             "threshold": str(config.debtor_npl_share)})
        describe[code], as_json[code] = finding.describe(), finding.as_json()
    codes = pd.Series(raised_debtors)
    return _append_findings(verdicts, verdicts.index[corporate[raise_]], name, codes.map(describe),
                            codes.map(as_json), 3)


class DebtorNplShare:
    """The in-house debtor-level rule as a book rule (entry-point group postloan.book_rules, registered in
    pyproject.toml like a third party's): a book rule has `name`, `article` and
    `apply(verdicts, facts, config) -> verdicts`, adding its findings with `append_findings`."""
    name, article = DEBTOR_NPL_SHARE

    def apply(self, verdicts: pd.DataFrame, facts: pd.DataFrame, config: Classification) -> pd.DataFrame:
        return apply_debtor_rule(verdicts, facts, config)


DEFAULT_BOOK_RULES = (DebtorNplShare(),)
append_findings = _append_findings  # for book rules of plugins


def apply_book_rules(verdicts: pd.DataFrame, facts: pd.DataFrame, config: Classification,
                     rules: Sequence) -> pd.DataFrame:
    """The book-level rules `rules` carries (registry.RuleSet.book_rules; a plain sequence of per-loan rules
    gets the built-in ones), in order, each on the verdicts the one before left."""
    for rule in getattr(rules, "book_rules", DEFAULT_BOOK_RULES):
        verdicts = rule.apply(verdicts, facts, config)
    return verdicts


# ------------------------------------------------------------------ entry points

def classify_facts(facts: pd.DataFrame, config: Classification, rules: Sequence[ClassificationRule | LoanRule],
                   external_overdue_share: Mapping[str, Decimal] | None = None) -> pd.DataFrame:
    """The verdict frame (VERDICT_COLUMNS, in `facts` order) of a whole book.

    Per-loan rules, then the cross-institution and the in-house debtor-level rules. The cross-institution rule
    runs first because the claims it makes non-performing count towards the debtor's non-performing share.
    When its external input is absent it stays silent and each non-retail verdict says so in `notes`, so
    nobody mistakes "not evaluated" for "passed".
    """
    facts = facts.reset_index(drop=True)
    verdicts = _verdicts(facts, config, rules, external_overdue_share, cross_institution=True)
    return apply_book_rules(verdicts, facts, config, rules)


def classify_book(loans: Sequence[LoanFacts], config: Classification, rules: Sequence[ClassificationRule | LoanRule],
                  external_overdue_share: Mapping[str, Decimal] | None = None) -> list[Verdict]:
    """classify_facts for LoanFacts objects: one Verdict per loan, in order (tests, small books)."""
    frame = classify_facts(facts_from_loans(loans), config, rules, external_overdue_share)
    return [Verdict.from_row(row) for row in frame.to_dict("records")]


def classify_loan(loan: LoanFacts, config: Classification, rules: Sequence[ClassificationRule | LoanRule]) -> Verdict:
    """The per-loan rules alone on one loan: the worst floor any rule sets, from a base assessment of 正常."""
    frame = _verdicts(facts_from_loans([loan]), config, rules, None, cross_institution=False)
    return Verdict.from_row(frame.iloc[0].to_dict())


FRAME_COLUMNS = ["contract_id", "tier", "tier_name", "tier_before_floors", "previous_tier", "rules_fired", "reasons",
                 "reasons_json", "notes", "override_by", "override_at", "override_reason"]


def with_previous_and_overrides(verdicts: pd.DataFrame, previous: Mapping[str, int] | None = None) -> pd.DataFrame:
    """The published classification columns (FRAME_COLUMNS) of a verdict frame, by contract_id."""
    override = [_override_facts(j) if "manual_override" in r.split(",") else {}
                for j, r in zip(verdicts["reasons_json"], verdicts["rules_fired"])]
    frame = verdicts.assign(
        tier_name=verdicts["tier"].map(TIER_NAMES),
        previous_tier=verdicts["contract_id"].map(previous or {}).astype("Int64"),
        override_by=[o.get("who", "") for o in override], override_at=[o.get("when", "") for o in override],
        override_reason=[o.get("why", "") for o in override])
    return frame[FRAME_COLUMNS].sort_values("contract_id", ignore_index=True)


def _override_facts(reasons_json: str) -> dict:
    # The engine does not import overrides.py; the finding's name is the contract between them.
    found = [f["facts"] for f in json.loads(reasons_json) if f["rule"] == "manual_override"]
    return found[-1] if found else {}


def verdicts_frame(verdicts: Iterable[Verdict], previous: dict[str, int] | None = None) -> pd.DataFrame:
    rows = [v.row() for v in verdicts]
    return with_previous_and_overrides(pd.DataFrame(rows, columns=VERDICT_COLUMNS), previous)
