"""Notices to borrowers as documents: which a month issues, their PDFs (deterministic), their archive class
(collection_notice, found by class and period, never stored twice), and their delivery through the
`publishers` plugin group — the object store's outbox by default, a folder, and SMTP against a real SMTP
server on loopback (aiosmtpd)."""
from __future__ import annotations

import io
import socket
from datetime import date
from email import message_from_bytes, policy

import pandas as pd
import pdfplumber
import pytest

from plugins.config import DEFAULT_CONFIG_DIR, Notices, load_schema, load_yaml_model
from plugins.notices.render import TemplateError, render_notice
from plugins.notices.select import issue_notices, notice_table
from plugins.portfolio.typed import type_tables

PERIOD, AS_OF = "2026-09", date(2026, 9, 30)
POLICY = load_yaml_model(DEFAULT_CONFIG_DIR / "notices.yaml", Notices)
LENDER = "示例融资租赁有限公司"

LOANS = [  # contract, product, maturity, leased asset
    ("R1", "loan", "2027-06-30", ""),           # an instalment due 3 October: reminder
    ("R2", "loan", "2027-06-30", ""),           # due 6 October, after the 5-day window: none
    ("O1", "loan", "2027-06-30", ""),           # a case opened 10 September: 逾期通知书
    ("D1", "loan", "2027-06-30", ""),           # reached 催收函/律师函 on 15 September: 催收函
    ("M1", "loan", "2026-10-20", ""),           # matures within 30 days: 到期及续贷提醒
    ("V1", "finance_lease", "2026-10-25", "冷藏车"),    # a vehicle lease ending: 车辆回收通知
    ("V2", "finance_lease", "2026-10-25", "数控机床"),  # not a vehicle, and leases get no maturity reminder
]


def _tables() -> dict[str, pd.DataFrame]:
    loans = pd.DataFrame([{"contract_id": c, "borrower_id": f"B{c}", "product": p, "principal": "100000.00",
                           "annual_rate": "0.06", "start_date": "2025-07-01", "maturity_date": m,
                           "outstanding_principal": "50000.00", "leased_asset": a} for c, p, m, a in LOANS])
    borrowers = pd.DataFrame([{"borrower_id": f"B{c}", "name": f"{c}商贸有限公司", "kind": "corporate",
                               "email": "o1@borrower.example" if c == "O1" else ""} for c, *_ in LOANS])
    schedules = pd.DataFrame([
        {"contract_id": "R1", "schedule_version": "1", "instalment_no": "7", "due_date": "2026-10-03",
         "principal_due": "8000.00", "interest_due": "400.00"},
        {"contract_id": "R2", "schedule_version": "1", "instalment_no": "7", "due_date": "2026-10-06",
         "principal_due": "8000.00", "interest_due": "400.00"}])
    payments = pd.DataFrame([{"contract_id": "R1", "schedule_version": "1", "instalment_no": "7",
                              "paid_date": "2026-09-28", "principal_paid": "1000.00", "interest_paid": "0.00"}])
    return type_tables({"loans": loans, "borrowers": borrowers, "schedules": schedules, "payments": payments},
                       load_schema())


def _state(cid: str, dpd: int = 0, since: date | None = None, principal: int = 0, interest: int = 0) -> dict:
    return {"contract_id": cid, "borrower_id": f"B{cid}", "on_book": True, "dpd": dpd, "overdue_since": since,
            "overdue_principal_cents": principal, "overdue_interest_cents": interest, "balance_cents": 5_000_000}


CONTRACTS = pd.DataFrame([_state("R1"), _state("R2"), _state("O1", 21, date(2026, 9, 10), 1_000_000, 50_000),
                          _state("D1", 76, date(2026, 7, 17), 2_000_000, 0), _state("M1"), _state("V1"),
                          _state("V2")])
CASES = pd.DataFrame([
    {"case_id": "O1-20260910", "contract_id": "O1", "status": "open", "opened_on": date(2026, 9, 10),
     "stage_code": "call", "stage_since": date(2026, 9, 17)},
    {"case_id": "D1-20260717", "contract_id": "D1", "status": "open", "opened_on": date(2026, 7, 17),
     "stage_code": "demand_letter", "stage_since": date(2026, 9, 15)}])
PENALTY = pd.DataFrame([{"contract_id": "O1", "penalty_interest_cents": 7_500}])


@pytest.fixture(scope="module")
def notices():
    return issue_notices(PERIOD, AS_OF, CONTRACTS, CASES, PENALTY, _tables(), POLICY, LENDER)


def _text(pdf: bytes) -> str:
    with pdfplumber.open(io.BytesIO(pdf)) as doc:
        return "".join((page.extract_text() or "") for page in doc.pages).replace("\n", "")


def test_each_kind_goes_to_the_contracts_its_rule_names(notices):
    assert [(n.kind, n.contract_id) for n in notices] == [
        ("demand_letter", "D1"), ("maturity_reminder", "M1"), ("overdue_notice", "O1"),
        ("repayment_reminder", "R1"), ("vehicle_recovery", "V1")]


def test_the_reminder_asks_for_what_is_still_unpaid_of_the_instalment(notices):
    [reminder] = [n for n in notices if n.kind == "repayment_reminder"]
    assert reminder.amount_cents == 740_000   # 8,000.00 + 400.00 - 1,000.00 paid ahead
    text = _text(reminder.pdf)
    assert "2026年10月3日偿还到期款项人民币7,400.00元" in text and "柒仟肆佰元整" in text


def test_the_overdue_notice_adds_penalty_interest_and_gives_five_working_days(notices):
    [notice] = [n for n in notices if n.kind == "overdue_notice"]
    text = _text(notice.pdf)
    # 10,000.00 + 500.00 + 75.00 罚息; 30 September + 5 working days skips 国庆节 (1–7 October) → 13 October
    assert "合计人民币10,575.00元" in text and "2026年10月13日前" in text
    assert notice.file_name == "逾期通知书_O1_2026-09.pdf" and notice.email == "o1@borrower.example"


def test_the_vehicle_notice_names_the_vehicle_and_why(notices):
    [notice] = [n for n in notices if n.kind == "vehicle_recovery"]
    assert "租赁的冷藏车，租赁期将于2026年10月25日届满" in _text(notice.pdf)


def test_notices_are_byte_identical_on_rerun(notices):
    again = issue_notices(PERIOD, AS_OF, CONTRACTS, CASES, PENALTY, _tables(), POLICY, LENDER)
    assert [n.pdf for n in again] == [n.pdf for n in notices]
    assert list(notice_table(again)["sha256"]) == [n.sha256 for n in notices]


def test_a_template_naming_an_unknown_field_is_refused_naming_the_kind():
    kind = POLICY.kinds["overdue_notice"].model_copy(update={"paragraphs": ["{no_such_field}"]})
    with pytest.raises(TemplateError, match=r"kinds\.overdue_notice.*no_such_field"):
        render_notice("overdue_notice", kind, {"contract_id": "X", "institution": LENDER})


def test_config_check_refuses_such_a_template_naming_file_key_and_field(tmp_path):
    from plugins.config import ConfigError

    text = (DEFAULT_CONFIG_DIR / "notices.yaml").read_text(encoding="utf-8").replace("{overdue_since}", "{overdue_from}")
    (tmp_path / "notices.yaml").write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError, match=r"notices\.yaml: key 'kinds\.overdue_notice\.paragraphs'.*overdue_from"):
        load_yaml_model(tmp_path / "notices.yaml", Notices)


# --- archive: class collection_notice, by period, stored once, not a receipt of the delivery -----------------

def test_notices_are_archived_once_as_collection_notice_by_period(archive, notices):
    from plugins.archive import DocumentMeta

    def keep():
        return [archive.archive_issued(n.pdf, DocumentMeta(
            doc_class="collection_notice", original_name=n.file_name, borrower_id=n.borrower_id,
            contract_id=n.contract_id, period=PERIOD, period_end=AS_OF, page_count=1))[1] for n in notices]

    assert keep() == [True] * 5
    assert keep() == [False] * 5                       # a re-run stores nothing twice
    found = archive.catalog.find_documents(doc_class="collection_notice", period=PERIOD)
    assert sorted(d.original_name for d in found) == sorted(n.file_name for n in notices)
    assert {d.retain_until[:10] for d in found} == {"2031-09-30"}   # 5 years from the period end
    assert archive.catalog.receipts(PERIOD) == []        # issued, not delivered: redelivery leaves them out


# --- delivery through the publishers group ------------------------------------------------------------------

def _publications(notices):
    from plugins.publishers import NoticePublication

    return [NoticePublication(kind="collection_notice", period=PERIOD, file_name=n.file_name, data=n.pdf,
                              sha256=n.sha256, archive_url="", contract_id=n.contract_id,
                              borrower_name=n.borrower_name, notice_name=n.kind_name, recipient=n.email)
            for n in notices]


def test_the_publishers_are_discovered_as_entry_points_with_the_outbox_enabled_by_default():
    from plugins import registry

    listed = {p.name: p.enabled for p in registry.installed(kinds=["publishers"]) if p.builtin}
    assert listed == {"outbox": True, "folder": False, "smtp": False}
    assert [p.name for p in registry.publishers() if p.name in listed] == ["outbox"]


def test_the_outbox_puts_each_notice_once_in_the_object_store(store, notices):
    from plugins.publishers import MemoryLedger, deliver_once
    from plugins.publishers.outbox import ObjectStoreOutbox, OutboxSettings

    outbox = ObjectStoreOutbox(OutboxSettings(prefix="test-outbox"))
    outbox.attach(store)
    ledger = MemoryLedger()
    first = deliver_once([outbox], _publications(notices), ledger)
    assert [r["status"] for r in first] == ["delivered"] * 5
    key = f"test-outbox/collection_notice/{PERIOD}/逾期通知书_O1_2026-09.pdf"
    [o1] = [n for n in notices if n.contract_id == "O1"]
    assert store.get(store.settings.work_bucket, key) == o1.pdf
    assert [r["status"] for r in deliver_once([outbox], _publications(notices), ledger)] == ["already_delivered"] * 5


def test_the_folder_publisher_writes_the_archived_bytes(tmp_path, notices):
    from plugins.publishers import MemoryLedger, deliver_once
    from plugins.publishers.outbox import FolderPublisher, FolderSettings

    rows = deliver_once([FolderPublisher(FolderSettings(folder=str(tmp_path)))], _publications(notices),
                        MemoryLedger())
    assert all(r["status"] == "delivered" for r in rows)
    assert (tmp_path / "collection_notice" / PERIOD / notices[0].file_name).read_bytes() == notices[0].pdf


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture()
def smtp_server():
    """A real SMTP server on loopback (aiosmtpd) that keeps every message it accepts."""
    from aiosmtpd.controller import Controller

    class Inbox:
        def __init__(self):
            self.received: list[tuple[list[str], bytes]] = []

        async def handle_DATA(self, server, session, envelope):
            self.received.append((list(envelope.rcpt_tos), envelope.content))
            return "250 OK"

    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=_free_port())
    controller.start()
    try:
        yield controller, inbox
    finally:
        controller.stop()


def test_the_smtp_publisher_sends_each_notice_once_over_a_real_smtp_exchange(smtp_server, notices):
    from plugins.publishers import MemoryLedger, deliver_once
    from plugins.publishers.smtp import SmtpPublisher, SmtpSettings
    from plugins.registry import Publication

    controller, inbox = smtp_server
    smtp = SmtpPublisher(SmtpSettings(host="127.0.0.1", port=controller.port, to="notices@lender.example"))
    ledger = MemoryLedger()
    report = Publication(kind="management_report", period=PERIOD, file_name="r.pdf", data=b"%PDF", sha256="0" * 64,
                         archive_url="")
    rows = deliver_once([smtp], [*_publications(notices), report], ledger)
    assert [r["status"] for r in rows] == ["delivered"] * 5 + ["skipped"]   # never mails a management report
    assert len(inbox.received) == 5
    by_recipient = {}
    for recipients, content in inbox.received:
        message = message_from_bytes(content, policy=policy.default)
        [attachment] = list(message.iter_attachments())
        by_recipient.setdefault(recipients[0], []).append((attachment.get_filename(), attachment.get_content()))
    assert [name for name, _ in by_recipient["o1@borrower.example"]] == ["逾期通知书_O1_2026-09.pdf"]
    assert len(by_recipient["notices@lender.example"]) == 4       # no borrower address: the configured mailbox
    sent = dict(item for items in by_recipient.values() for item in items)
    assert all(sent[n.file_name] == n.pdf for n in notices)      # the archived bytes, attached as they are
    deliver_once([smtp], _publications(notices), ledger)
    assert len(inbox.received) == 5                              # a re-run sends nothing twice


def test_an_unreachable_smtp_server_fails_each_notice_with_the_reason_and_goes_on(notices):
    from plugins.publishers import MemoryLedger, deliver_once
    from plugins.publishers.smtp import SmtpPublisher, SmtpSettings

    smtp = SmtpPublisher(SmtpSettings(host="127.0.0.1", port=_free_port(), to="x@lender.example", timeout_seconds=2))
    rows = deliver_once([smtp], _publications(notices)[:2], MemoryLedger())
    assert [r["status"] for r in rows] == ["failed", "failed"]
    assert "ConnectionRefusedError" in rows[0]["receipt"]


# --- the sample's months, run for real ----------------------------------------------------------------------

@pytest.fixture(scope="module")
def sample_months(s3_env):
    """Deliver and run 2026-08 and 2026-09 (the cases roll forward), then run 2026-09 again."""
    from pipelines import cli
    from plugins.archive import ObjectStore, s3_settings
    from plugins.config import load_config

    cfg = load_config()
    store = ObjectStore(s3_settings(cfg.storage))
    store.ensure_buckets()
    cli.deliver_sample(cfg, ["2026-08", "2026-09"])
    instance = cli._instance()
    runs = [cli.run_job("monthly_post_loan", month, instance) for month in ("2026-08", "2026-09")]
    versions = lambda: sorted((o.object_name, o.version_id) for o in store.client.list_objects(  # noqa: E731
        store.settings.archive_bucket, recursive=True, include_version=True))
    after_first = versions()
    runs.append(cli.run_job("monthly_post_loan", "2026-09", instance))
    return {"runs": runs, "after_first": after_first, "after_rerun": versions(), "instance": instance}


def _materialization(instance, asset: str, month: str):
    from dagster import AssetKey

    record = instance.get_latest_materialization_event(AssetKey(asset), partition=month) \
        if "partition" in instance.get_latest_materialization_event.__code__.co_varnames else None
    if record is None:
        from dagster import EventRecordsFilter, DagsterEventType

        records = instance.get_event_records(EventRecordsFilter(
            event_type=DagsterEventType.ASSET_MATERIALIZATION, asset_key=AssetKey(asset), asset_partitions=[month]),
            limit=1)
        record = records[0].event_log_entry
    return record.asset_materialization.metadata


@pytest.mark.slow
def test_the_sample_month_lists_its_notices_by_class_and_period(sample_months, capsys):
    from pipelines import cli

    assert all(r.success for r in sample_months["runs"])
    capsys.readouterr()
    assert cli.main(["archive", "find", "--class", "collection_notice", "--period", "2026-09", "--json"]) in (0, None)
    lines = [line for line in capsys.readouterr().out.splitlines() if line.strip()]
    meta = _materialization(sample_months["instance"], "collection_notices", "2026-09")
    assert len(lines) == meta["notices"].value > 0
    assert all('"collection_notice"' in line for line in lines)
    penalty = _materialization(sample_months["instance"], "penalty_interest", "2026-09")
    print({k: v.value for k, v in {**meta, **penalty}.items() if isinstance(v.value, (int, float, str, dict))})


@pytest.mark.slow
def test_a_rerun_of_the_month_adds_nothing_to_the_archive(sample_months):
    assert sample_months["after_rerun"] == sample_months["after_first"]


@pytest.mark.slow
def test_the_cases_roll_forward_from_last_month(sample_months):
    meta = _materialization(sample_months["instance"], "collection_cases", "2026-09")
    print({k: v.value for k, v in meta.items() if isinstance(v.value, (int, float, str))})  # shown with -s
    assert meta["cases_source"].value == "rolled_forward"
    assert meta["open"].value > 0


@pytest.mark.slow
def test_the_run_summary_names_cases_notices_and_penalty_interest(sample_months, capsys):
    from pipelines import cli

    data = cli._summary_data(sample_months["runs"][1], "month", "2026-09")
    collections = data["collections"]
    assert collections["open_cases"] > 0 and collections["notices"]["逾期通知书"] > 0
    assert all(name.endswith("_2026-09.pdf") for name in collections["notice_examples"])
    cli._print_summary(data)
    out = capsys.readouterr().out
    assert "collection cases open:" in out and "penalty interest (罚息及复利) accrued this month:" in out


def test_a_publisher_handed_a_management_report_answers_that_it_does_not_deliver_it():
    # the report publications (assets/publications.py) hand every enabled publisher each published report
    from plugins.publishers.outbox import ObjectStoreOutbox
    from plugins.registry import Publication

    report = Publication(kind="management_report", period=PERIOD, file_name="r.pdf", data=b"%PDF", sha256="0" * 64,
                         archive_url="")
    receipt = ObjectStoreOutbox().publish(report)   # no store attached, none needed
    assert receipt == "not delivered: outbox delivers collection_notice, not management_report"


def test_a_month_with_no_payment_yet_still_finds_the_repayments_due():
    """The book's first month: the payments table is delivered empty. The instalment of 100.00 + 5.00 due on
    2026-10-03, inside the reminder window after 2026-09-30, is owed in full."""
    from plugins.notices.select import _repayments_due
    from plugins.portfolio.typed import DATE_DTYPE

    schedules = pd.DataFrame({"contract_id": ["HT1", "HT1"], "schedule_version": [1, 1], "instalment_no": [1, 2],
                              "due_date": pd.array([date(2026, 10, 3), date(2026, 11, 3)], dtype=DATE_DTYPE),
                              "principal_due": [10000, 10000], "interest_due": [500, 500]})
    payments = pd.DataFrame({"contract_id": pd.Series([], dtype=str), "schedule_version": pd.Series([], dtype="int64"),
                             "instalment_no": pd.Series([], dtype="int64"), "paid_date": pd.array([], dtype=DATE_DTYPE),
                             "principal_paid": pd.Series([], dtype="int64"),
                             "interest_paid": pd.Series([], dtype="int64")})
    due = _repayments_due({"schedules": schedules, "payments": payments}, date(2026, 9, 30), date(2026, 10, 5),
                          date(2026, 9, 30))
    assert due == {"HT1": (date(2026, 10, 3), 10500)}
