"""EAST-style detail extracts: one row per loan (借据) and a finance-lease table, as GB18030 CSV.

The field order, Chinese names and formats come from ``config/east.yaml``
(:class:`EastSpec`); this module only gathers the per-loan facts and writes
them in that shape. Amounts are integer cents until they are formatted with
exactly two decimals; the control file's sums are taken from the formatted
cells, so they reconcile with the files to the cent.

Rows: the loan book at the period end (the same loans, balances and tiers as
G11), plus contracts closed during the period (结清, 核销, 转让) with a zero
balance, as the standard wants the period's movements too.
"""
from __future__ import annotations

import csv
import io
import zipfile
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, model_validator

from plugins.config import load_yaml_model
from plugins.reports.determinism import normalise_zip

FieldFormat = Literal["date", "amount", "integer", "rate", "code", "text"]
CUSTOMER_TYPES = {"corporate": "对公", "individual": "个人"}
PRODUCT_TYPES = {"loan": "贷款", "finance_lease": "融资租赁"}
CLOSED_STATUSES = ("结清", "核销", "转让")


# --------------------------------------------------------------------------- field spec (config/east.yaml)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class EastField(_Strict):
    name: str
    source: str | None               # None: in the standard, not delivered by the core system (written empty)
    format: FieldFormat
    allowed: list[str] | None = None  # code fields only
    decimals: int | None = Field(default=None, ge=0, le=10)
    note: str | None = None

    @model_validator(mode="after")
    def _consistent(self) -> "EastField":
        if self.format == "code" and self.allowed is None:
            raise ValueError(f"code field {self.name} needs `allowed`")
        if self.format == "rate" and self.decimals is None:
            raise ValueError(f"rate field {self.name} needs `decimals`")
        if self.source is None and not self.note:
            raise ValueError(f"field {self.name} has no source: `note` must say why it is empty")
        return self


class EastTable(_Strict):
    title: str
    table_code: str = Field(pattern=r"^[A-Z0-9_]+$")
    products: list[str]
    fields: list[EastField]

    @model_validator(mode="after")
    def _unique_names(self) -> "EastTable":
        names = [f.name for f in self.fields]
        if len(names) != len(set(names)):
            raise ValueError(f"table {self.table_code}: duplicate field names")
        return self


class EastSpec(_Strict):
    encoding: str
    delimiter: str = Field(min_length=1, max_length=1)
    line_terminator: str
    header: bool
    file_name: str
    control_file_name: str
    tables: dict[str, EastTable]

    @model_validator(mode="after")
    def _encodable(self) -> "EastSpec":
        "".encode(self.encoding)  # LookupError for an unknown codec
        return self

    def file_for(self, table: str, institution_code: str, as_of: date) -> str:
        return self.file_name.format(institution_code=institution_code, table_code=self.tables[table].table_code,
                                     date=f"{as_of:%Y%m%d}")

    def control_for(self, institution_code: str, as_of: date) -> str:
        return self.control_file_name.format(institution_code=institution_code, date=f"{as_of:%Y%m%d}")


def load_east_spec(config_dir: Path | str) -> EastSpec:
    """config/east.yaml, validated; errors name the file, the key and the problem."""
    return load_yaml_model(Path(config_dir) / "east.yaml", EastSpec)


# --------------------------------------------------------------------------- per-loan facts


def _dates(column: pd.Series) -> pd.Series:
    return pd.to_datetime(column.replace("", None), format="ISO8601").dt.date


def _cents(column: pd.Series) -> pd.Series:
    return column.map(lambda v: int((Decimal(v or "0") * 100).to_integral_value()) if v not in (None, "") else 0)


def instalment_history(schedules: pd.DataFrame, payments: pd.DataFrame, as_of: date) -> pd.DataFrame:
    """Instalments of the schedule in force due by `as_of`, with amounts paid by their due date and by `as_of`."""
    sched = schedules.copy()
    sched["schedule_version"] = sched["schedule_version"].astype(int)
    sched = sched[sched["schedule_version"] == sched.groupby("contract_id")["schedule_version"].transform("max")]
    sched = sched.assign(due_date=_dates(sched["due_date"]), principal_due=_cents(sched["principal_due"]),
                         interest_due=_cents(sched["interest_due"]))
    pay = payments.assign(paid_date=_dates(payments["paid_date"]),
                          schedule_version=payments["schedule_version"].astype(int),
                          principal_paid=_cents(payments["principal_paid"]),
                          interest_paid=_cents(payments["interest_paid"]))
    pay = pay[pay["paid_date"] <= as_of]
    keys = ["contract_id", "schedule_version", "instalment_no"]
    merged = sched.merge(pay[[*keys, "paid_date", "principal_paid", "interest_paid"]], on=keys, how="left")
    merged[["principal_paid", "interest_paid"]] = merged[["principal_paid", "interest_paid"]].fillna(0).astype("int64")
    on_time = merged["paid_date"].notna() & (merged["paid_date"] <= merged["due_date"])
    merged["paid_on_time"] = (merged["principal_paid"] + merged["interest_paid"]).where(on_time, 0)
    per = merged.groupby(keys, as_index=False).agg(
        due_date=("due_date", "first"), principal_due=("principal_due", "first"),
        interest_due=("interest_due", "first"), principal_paid=("principal_paid", "sum"),
        interest_paid=("interest_paid", "sum"), paid_on_time=("paid_on_time", "sum"))
    return per


def overdue_facts(schedules: pd.DataFrame, payments: pd.DataFrame, as_of: date) -> pd.DataFrame:
    """contract_id → overdue dates, consecutive and cumulative overdue periods, next due date."""
    per = instalment_history(schedules, payments, as_of)
    due = per[per["due_date"] <= as_of].copy()
    due["principal_short"] = due["principal_paid"] < due["principal_due"]
    due["interest_short"] = due["interest_paid"] < due["interest_due"]
    due["unsettled"] = due["principal_short"] | due["interest_short"]
    due["late"] = due["paid_on_time"] < due["principal_due"] + due["interest_due"]
    rows = []
    for contract_id, items in due.sort_values(["contract_id", "due_date"]).groupby("contract_id", sort=True):
        unsettled = items["unsettled"].tolist()
        consecutive = 0
        for flag in reversed(unsettled):  # the most recent run of unpaid instalments
            if not flag:
                break
            consecutive += 1
        rows.append({
            "contract_id": contract_id,
            "principal_overdue_date": items.loc[items["principal_short"], "due_date"].min(),
            "interest_overdue_date": items.loc[items["interest_short"], "due_date"].min(),
            "consecutive_overdue_periods": consecutive,
            "cumulative_overdue_periods": int(items["late"].sum()),
        })
    facts = pd.DataFrame(rows, columns=["contract_id", "principal_overdue_date", "interest_overdue_date",
                                        "consecutive_overdue_periods", "cumulative_overdue_periods"])
    upcoming = per[per["due_date"] > as_of].groupby("contract_id")["due_date"].min().rename("next_due_date")
    facts = facts.merge(upcoming, left_on="contract_id", right_index=True, how="outer")
    periods = ["consecutive_overdue_periods", "cumulative_overdue_periods"]  # nothing due yet: none overdue
    facts[periods] = facts[periods].fillna(0).astype("int64")
    return facts.sort_values("contract_id", ignore_index=True)


def _lease_type(purpose: str) -> str:
    text = str(purpose or "")
    if "回租" in text:
        return "售后回租"
    if "直租" in text or "直接租赁" in text:
        return "直接租赁"
    return ""


def _closing_dates(extract: dict[str, pd.DataFrame]) -> pd.Series:
    """contract_id → the date it left the book: write-off date, transfer date, else its last payment (settled)."""
    loans = extract["loans"]
    last_paid = _dates(extract["payments"]["paid_date"]).groupby(extract["payments"]["contract_id"]).max().to_dict()
    closing = {}
    # A transfer's date is set at ingest from the collection log's 转让 action (plugins/monitoring/disposal.py).
    transferred = loans["transferred_on"] if "transferred_on" in loans else pd.Series("", index=loans.index)
    for contract_id, written_off, moved in zip(loans["contract_id"], loans["written_off_on"], transferred):
        closing[contract_id] = (date.fromisoformat(written_off) if written_off else
                                date.fromisoformat(moved) if moved else last_paid.get(contract_id))
    return pd.Series(closing, dtype=object)


def east_rows(book: pd.DataFrame, extract: dict[str, pd.DataFrame], as_of: date, period_start: date,
              institution_code: str, penalty: pd.DataFrame | None = None) -> pd.DataFrame:
    """One row per contract with every source column the field spec may name (typed: cents, dates, text).

    `book` is the classified, provisioned loan book (loan_provisions); `extract` the core tables as delivered;
    `penalty` the period end's penalty interest per contract (plugins/collections/penalty.py: contract_id,
    penalty_interest_cents accrued to date), 0 for a contract it does not list.
    """
    loans = extract["loans"].copy()
    borrowers = extract["borrowers"][["borrower_id", "name", "kind"]].rename(
        columns={"name": "borrower_name", "kind": "borrower_kind"})
    closing = _closing_dates(extract)
    closed = loans[loans["status"].isin(CLOSED_STATUSES) & ~loans["contract_id"].isin(book["contract_id"])]
    in_period = np.array([d is not None and not pd.isna(d) and period_start <= d <= as_of
                          for d in closed["contract_id"].map(closing)], dtype=bool)
    closed = closed[in_period]  # a boolean array: an empty list would select no columns instead
    outstanding = book[["contract_id", "balance_cents", "tier_name", "dpd", "overdue_principal_cents",
                        "overdue_interest_cents", "booked_provision_cents"]]
    rows = loans[loans["contract_id"].isin(set(book["contract_id"]) | set(closed["contract_id"]))]
    rows = rows.merge(outstanding, on="contract_id", how="left").merge(borrowers, on="borrower_id", how="left")
    rows = rows.merge(overdue_facts(extract["schedules"], extract["payments"], as_of), on="contract_id", how="left")
    zero_if_closed = ["balance_cents", "dpd", "overdue_principal_cents", "overdue_interest_cents",
                      "booked_provision_cents", "consecutive_overdue_periods", "cumulative_overdue_periods"]
    rows[zero_if_closed] = rows[zero_if_closed].fillna(0).astype("int64")
    closed_ids = set(closed["contract_id"])
    # A closed contract owes nothing: no overdue dates, no next instalment.
    for column in ("principal_overdue_date", "interest_overdue_date", "next_due_date"):
        rows[column] = rows[column].where(~rows["contract_id"].isin(closed_ids), None)
    return pd.DataFrame({
        "collection_date": as_of,
        "institution_code": institution_code,
        "contract_id": rows["contract_id"],
        "borrower_id": rows["borrower_id"],
        "borrower_name": rows["borrower_name"].fillna(""),
        "customer_type": rows["borrower_kind"].map(CUSTOMER_TYPES).fillna(""),
        "product": rows["product"],
        "product_type": rows["product"].map(PRODUCT_TYPES).fillna(rows["product"]),
        "issuance_type": rows["issuance_type"],
        "currency": rows["currency"],
        "principal_cents": _cents(rows["principal"]),
        "balance_cents": rows["balance_cents"],
        "start_date": rows["start_date"],
        "original_maturity_date": rows["original_maturity_date"],
        "maturity_date": rows["maturity_date"],
        "annual_rate": rows["annual_rate"],
        "tier_name": rows["tier_name"].fillna(""),
        "overdue_principal_cents": rows["overdue_principal_cents"],
        "overdue_interest_cents": rows["overdue_interest_cents"],
        "overdue_rent_cents": rows["overdue_principal_cents"] + rows["overdue_interest_cents"],
        "principal_overdue_date": rows["principal_overdue_date"],
        "interest_overdue_date": rows["interest_overdue_date"],
        "dpd": rows["dpd"],
        "consecutive_overdue_periods": rows["consecutive_overdue_periods"],
        "cumulative_overdue_periods": rows["cumulative_overdue_periods"],
        "repayment_method": rows["repayment_method"],
        "next_due_date": rows["next_due_date"],
        "industry_code": rows["industry_code"],
        "region": rows["region"],
        "purpose": rows["purpose"],
        "lease_type": rows["purpose"].map(_lease_type),
        "leased_asset": rows["leased_asset"].fillna(""),
        "restructured_on": rows["restructured_on"],
        "extended_on": rows["extended_on"],
        "written_off_on": rows["written_off_on"],
        "status": rows["status"],
        "provision_cents": rows["booked_provision_cents"],
        "penalty_interest_cents": _penalty_of(rows["contract_id"], penalty),
    }).sort_values("contract_id", ignore_index=True)


def _penalty_of(contracts: pd.Series, penalty: pd.DataFrame | None) -> pd.Series:
    """Penalty interest (罚息及复利) accrued to the period end per contract; 0 when not accruing or closed."""
    if penalty is None or not len(penalty):
        return pd.Series(0, index=contracts.index, dtype="int64")
    accrued = penalty.set_index("contract_id")["penalty_interest_cents"]
    return contracts.map(accrued).fillna(0).astype("int64")


# --------------------------------------------------------------------------- formatting


def _missing(value: Any) -> bool:
    return value is None or value == "" or (not isinstance(value, str) and pd.isna(value))


def format_value(value: Any, field: EastField) -> str:
    """One cell as the standard writes it; raises ValueError for a code outside `allowed`."""
    if field.format == "code":
        text = "" if _missing(value) else str(value).strip()
        if text not in (field.allowed or []):
            raise ValueError(f"{field.name}: value {text!r} is not one of {field.allowed}")
        return text
    if _missing(value):
        return ""
    if field.format == "date":
        day = value if isinstance(value, date) else date.fromisoformat(str(value)[:10])
        return f"{day:%Y%m%d}"
    if field.format == "amount":
        return f"{Decimal(int(value)).scaleb(-2):.2f}"
    if field.format == "integer":
        return str(int(value))
    if field.format == "rate":
        return f"{Decimal(str(value)):.{field.decimals}f}"
    return " ".join(str(value).split())  # text: no line breaks or runs of blanks inside a cell


def format_table(rows: pd.DataFrame, table: EastTable) -> pd.DataFrame:
    """The table's cells as strings, columns named and ordered by the spec, for the contracts of its products."""
    selected = rows[rows["product"].isin(table.products)]
    out = {}
    for field in table.fields:
        values = selected[field.source] if field.source else [None] * len(selected)
        cells = []
        for contract_id, value in zip(selected["contract_id"], values):
            try:
                cells.append(format_value(value, field))
            except ValueError as exc:
                raise ValueError(f"EAST {table.title} ({table.table_code}), contract {contract_id}: {exc}") from None
        out[field.name] = cells
    return pd.DataFrame(out, columns=[f.name for f in table.fields])


def csv_bytes(frame: pd.DataFrame, spec: EastSpec) -> bytes:
    """CSV in the spec's encoding and line ends; every cell quoted only when it must be."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=spec.delimiter, lineterminator=spec.line_terminator)
    if spec.header:
        writer.writerow(frame.columns)
    writer.writerows(frame.itertuples(index=False, name=None))
    return buffer.getvalue().encode(spec.encoding)


def read_east_csv(data: bytes, spec: EastSpec) -> pd.DataFrame:
    """A file written by :func:`csv_bytes`, back as strings (for checks and tests)."""
    text = data.decode(spec.encoding)
    return pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False, sep=spec.delimiter)


def amount_fields(table: EastTable) -> list[str]:
    return [f.name for f in table.fields if f.format == "amount"]


CONTROL_COLUMNS = ["文件名", "表名", "记录数", "金额字段", "金额合计"]


def control_frame(tables: dict[str, pd.DataFrame], spec: EastSpec, file_names: dict[str, str]) -> pd.DataFrame:
    """Row counts and amount sums per file, summed from the formatted cells (exact Decimal)."""
    rows = []
    for key, frame in tables.items():
        table = spec.tables[key]
        for name in amount_fields(table):
            total = sum((Decimal(v) for v in frame[name] if v != ""), Decimal("0.00"))
            rows.append((file_names[key], table.title, str(len(frame)), name, f"{total:.2f}"))
    return pd.DataFrame(rows, columns=CONTROL_COLUMNS)


def render_east_files(rows: pd.DataFrame, spec: EastSpec, institution_code: str, as_of: date) -> dict[str, bytes]:
    """File name → bytes: one CSV per table of the spec and the control file; identical input, identical bytes."""
    tables = {key: format_table(rows, table) for key, table in spec.tables.items()}
    names = {key: spec.file_for(key, institution_code, as_of) for key in tables}
    files = {names[key]: csv_bytes(frame, spec) for key, frame in tables.items()}
    files[spec.control_for(institution_code, as_of)] = csv_bytes(control_frame(tables, spec, names), spec)
    return files


# --------------------------------------------------------------------------- bundling (one asset value)


def pack_files(files: dict[str, bytes]) -> bytes:
    """Several files as one deterministic zip (fixed timestamps, sorted names) — one asset value."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name in sorted(files):
            archive.writestr(name, files[name])
    return normalise_zip(buffer.getvalue())


def unpack_files(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return {name: archive.read(name) for name in archive.namelist()}
