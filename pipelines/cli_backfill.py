"""`postloan backfill START END`: deliver the sample's months and run them in order, quarters at quarter ends.

Months run oldest first because each month's classification and the management
report's trend read earlier months' results from the work store. A failed month
stops the backfill (later months would build on a gap); re-running the command
is safe: publication is content-addressed, so months already done add nothing.
"""
from __future__ import annotations

import argparse
import time
from dataclasses import dataclass, field

from pipelines import cli_errors as types
from pipelines.cli_errors import UserError


def months_between(start: str, end: str) -> list[str]:
    """'2025-10', '2026-01' → ['2025-10', '2025-11', '2025-12', '2026-01']."""
    first, last = int(start[:4]) * 12 + int(start[5:7]) - 1, int(end[:4]) * 12 + int(end[5:7]) - 1
    if last < first:
        raise ValueError(f"backfill end {end} is before its start {start}")
    return [f"{i // 12:04d}-{i % 12 + 1:02d}" for i in range(first, last + 1)]


def quarter_of(month: str) -> str | None:
    """The quarterly partition key when `month` ends a quarter, else None."""
    m = int(month[5:7])
    return f"{month[:4]}-{m - 2:02d}-01" if m % 3 == 0 else None


@dataclass
class BackfillReport:
    runs: list[tuple[str, str, bool, float]] = field(default_factory=list)  # job, partition, success, seconds

    @property
    def success(self) -> bool:
        return all(ok for _, _, ok, _ in self.runs)


def backfill(start: str, end: str, deliver: bool = True, quarters: bool = True, instance=None,
             progress=print, scenario: str | None = None) -> BackfillReport:
    """Deliver (optionally) and run every month from `start` to `end`, then each quarter ending in the range."""
    from pipelines import cli

    cfg = cli._config()
    months = months_between(start, end)
    cli.ensure_object_store(cfg)
    if deliver:
        cli.deliver_sample(cfg, months, scenario)
    instance = instance or cli._instance()
    report = BackfillReport()
    began = time.monotonic()
    from pipelines.progress import progress as bar

    for i, month in enumerate(bar(months, total=len(months), desc="backfill", unit="month"), start=1):
        jobs = [("monthly_post_loan", month)]
        if quarters and quarter_of(month):
            jobs.append(("quarterly_regulatory", quarter_of(month)))
        for job, key in jobs:
            started = time.monotonic()
            result = cli.run_job(job, key, instance)
            report.runs.append((job, key, result.success, time.monotonic() - started))
            for line in cli._check_failures(result):
                progress(f"  {line}")
            if not result.success:
                progress(f"[{i}/{len(months)}] {job} {cli._partition_label(key)} FAILED; stopping (later months "
                         "build on this one)")
                return report
        elapsed = time.monotonic() - began
        progress(f"[{i}/{len(months)}] {month} done — {elapsed:.0f}s elapsed, "
                 f"about {elapsed / i * (len(months) - i):.0f}s to go")
    return report


def _refuse_user_errors(args: argparse.Namespace) -> None:
    """Before anything is delivered or run: the range is in order, every month can be run, and what is
    delivered exists in the sample (or, with --no-deliver, is in the inbox)."""
    if args.end < args.start:
        raise UserError(f"backfill range is reversed: END {args.end} is before START {args.start}; give the earlier "
                        f"month first: `postloan backfill {args.end} {args.start}`")
    cfg = types.cli_config()
    for month in (args.start, args.end):
        types.require_runnable_month(cfg, month)
    if not args.no_deliver:
        types.require_sample_months(cfg, [args.start, args.end])
        return
    from pipelines import cli

    cli.ensure_object_store(cfg)
    for month in months_between(args.start, args.end):
        cli.require_delivered(cfg, month)


def cmd_backfill(args: argparse.Namespace) -> int:
    _refuse_user_errors(args)
    started = time.monotonic()
    report = backfill(args.start, args.end, deliver=not args.no_deliver, quarters=not args.no_quarters,
                      scenario=args.scenario)
    print(f"backfill {args.start}..{args.end}: {sum(ok for *_, ok, _ in report.runs)}/{len(report.runs)} runs "
          f"succeeded in {time.monotonic() - started:.0f}s")
    return 0 if report.success else 1


def add_parser(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("backfill", help="deliver sample months and run them in order (quarters at quarter ends)")
    parser.add_argument("start", metavar="START", type=types.month, help="first month, YYYY-MM")
    parser.add_argument("end", metavar="END", type=types.month, help="last month, YYYY-MM")
    parser.add_argument("--no-deliver", action="store_true", help="the months are already in the inbox")
    parser.add_argument("--no-quarters", action="store_true", help="monthly runs only")
    parser.add_argument("--scenario", choices=["realistic", "stressed"], default=None,
                        help="the sample book delivered (default: config/sample.yaml scenario, or "
                             "$POSTLOAN_SAMPLE_SCENARIO)")
    parser.set_defaults(func=cmd_backfill)
