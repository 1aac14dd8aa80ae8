"""User errors of the command line: one line on stderr naming what was wrong and the fix, exit code 2.

The one place for them: the argument types (months, quarters, dates, paths, roles, hashes), the parser
whose mistakes are one line instead of usage and a traceback, the checks every sub-command shares (the
object store answers, a period is one that can be run or delivered), and `guarded`, which turns the
exceptions a user can fix (configuration, refusals, an unreachable server, a missing file) into
`postloan: error: …`. Every `pipelines/cli*.py` module imports this one; it imports none of them.
"""
from __future__ import annotations

import argparse
import re
import socket
import sys
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Callable

from pipelines import settings
from plugins.config import ConfigError, PostloanConfig, load_config

PROG = "postloan"
EXIT_USER_ERROR = 2
CONNECT_TIMEOUT_SECONDS = 3.0


class UserError(Exception):
    """A mistake the user can fix. The message says what was wrong and what to do instead.

    Not a ValueError on purpose: argparse would swallow it into "invalid value" when raised inside a type."""


class Parser(argparse.ArgumentParser):
    """argparse whose errors are one line (no usage block): raised as UserError, printed by `guarded`.
    Sub-command parsers are of this class too (argparse makes them of their parent's type)."""

    def error(self, message: str):  # noqa: D401 - argparse's hook; never returns
        # argparse calls this while handling an ArgumentError; one raised from an ArgumentTypeError carries
        # our own message, which already names the form to use, so only argparse's own get the help hint.
        from_type = isinstance(getattr(sys.exc_info()[1], "__context__", None), argparse.ArgumentTypeError)
        raise UserError(message if from_type else f"{message} (see `{self.prog} --help`)")


# --- argument types -------------------------------------------------------------------------------------------

_MONTH = re.compile(r"^(\d{4})-(\d{1,2})$")
_QUARTER = re.compile(r"^(\d{4})-?[Qq](\d+)$")
_HEX = re.compile(r"^[0-9a-fA-F]+$")
MIN_HASH_PREFIX = 6


def month(text: str) -> str:
    """'2026-09' → '2026-09'; anything else (2026-9, 2026-13, 2026Q3) is refused with the form to use."""
    text = text.strip()
    match = _MONTH.match(text)
    if not match:
        if _QUARTER.match(text):
            raise argparse.ArgumentTypeError(f"{text!r} is a quarter, not a month; write the month as YYYY-MM, "
                                             "e.g. 2026-09")
        raise argparse.ArgumentTypeError(f"invalid month {text!r}: write YYYY-MM, e.g. 2026-09")
    year, mon = match.group(1), int(match.group(2))
    if not 1 <= mon <= 12:
        raise argparse.ArgumentTypeError(f"invalid month {text!r}: there is no month {mon}; write YYYY-MM with the "
                                         f"month 01–12, e.g. {year}-09")
    if len(match.group(2)) != 2:
        raise argparse.ArgumentTypeError(f"invalid month {text!r}: write the month with two digits, "
                                         f"{year}-{mon:02d}")
    return text


def quarter(text: str) -> str:
    """'2026Q3', '2026-Q3', '2026q3' → '2026Q3'. A month (2026-3, 2026-09) is refused, naming its quarter."""
    text = text.strip()
    match = _QUARTER.match(text)
    if not match:
        as_month = _MONTH.match(text)
        if as_month and 1 <= int(as_month.group(2)) <= 12:
            year, mon = as_month.group(1), int(as_month.group(2))
            raise argparse.ArgumentTypeError(
                f"invalid quarter {text!r}: write YYYYQn, e.g. {year}Q{(mon - 1) // 3 + 1} ({year}-{mon:02d} is a "
                f"month; it runs with `postloan run month {year}-{mon:02d}`)")
        raise argparse.ArgumentTypeError(f"invalid quarter {text!r}: write YYYYQn or YYYY-Qn, e.g. 2026Q3")
    year, number = match.group(1), int(match.group(2))
    if not 1 <= number <= 4:
        raise argparse.ArgumentTypeError(f"invalid quarter {text!r}: a year has quarters Q1–Q4; write YYYYQn, "
                                         f"e.g. {year}Q3")
    return f"{year}Q{number}"


def month_or_quarter(text: str) -> str:
    """A report's period: a month (YYYY-MM) or a quarter (YYYYQn, returned as '2026Q3')."""
    if _QUARTER.match(text.strip()):
        return quarter(text)
    try:
        return month(text)
    except argparse.ArgumentTypeError:
        raise argparse.ArgumentTypeError(f"invalid period {text!r}: write a month as YYYY-MM (e.g. 2026-09) or a "
                                         "quarter as YYYYQn (e.g. 2026Q3)") from None


def day(text: str) -> date:
    """'2030-12-31' → date(2030, 12, 31)."""
    text = text.strip()
    if not re.match(r"^\d{4}-\d{2}-\d{2}$", text):
        raise argparse.ArgumentTypeError(f"invalid date {text!r}: write YYYY-MM-DD, e.g. 2030-12-31")
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"invalid date {text!r}: {exc}; write YYYY-MM-DD, e.g. 2030-12-31") from None


def existing_file(text: str) -> Path:
    path = Path(text).expanduser()
    if path.is_dir():
        raise argparse.ArgumentTypeError(f"{text!r} is a folder; give the path of a file")
    if not path.exists():
        raise argparse.ArgumentTypeError(f"no file {text!r} (looked in {Path.cwd()}); give the path of an "
                                         "existing file")
    return path


def output_file(text: str) -> Path:
    """A file to write: its folder must exist, and it must not be a folder itself."""
    path = Path(text).expanduser()
    if path.is_dir():
        raise argparse.ArgumentTypeError(f"{text!r} is a folder; give a file name to write, e.g. {path / 'out.bin'}")
    if not path.parent.is_dir():
        raise argparse.ArgumentTypeError(f"folder {str(path.parent)!r} does not exist; create it first or write "
                                         "somewhere else")
    return path


def new_folder(text: str) -> Path:
    """A folder to create, or an empty one."""
    path = Path(text).expanduser()
    if path.exists() and not path.is_dir():
        raise argparse.ArgumentTypeError(f"{text!r} is a file; give a new or empty folder")
    if path.is_dir() and any(path.iterdir()):
        raise argparse.ArgumentTypeError(f"folder {text!r} is not empty; give a new or empty folder")
    return path


def sha256_prefix(text: str) -> str:
    """A SHA-256 (64 hex digits) or a prefix of at least MIN_HASH_PREFIX, lower case; or an s3:// URL the
    pipeline printed (a report's URL names its hash's first 12 digits)."""
    text = text.strip()
    if text.startswith("s3://"):
        return text
    if not _HEX.match(text) or len(text) > 64:
        raise argparse.ArgumentTypeError(f"invalid hash {text!r}: write the SHA-256 (64 hex digits), a prefix of "
                                         f"at least {MIN_HASH_PREFIX} digits, or the s3:// URL printed for it")
    if len(text) < MIN_HASH_PREFIX:
        raise argparse.ArgumentTypeError(f"hash prefix {text!r} is too short: give at least {MIN_HASH_PREFIX} hex "
                                         "digits (the demo prints 12)")
    return text.lower()


def hex_prefix(text: str) -> str:
    """A search pattern: any hex prefix of a SHA-256."""
    text = text.strip()
    if not _HEX.match(text) or len(text) > 64:
        raise argparse.ArgumentTypeError(f"invalid hash {text!r}: write hex digits of a SHA-256, e.g. 3fa9c2e81b0d")
    return text.lower()


def role(text: str) -> str:
    """A role defined in config/access.yaml."""
    try:
        roles = list(cli_config().access.roles)
    except ConfigError as exc:  # a ValueError: argparse would report it as "invalid role value"
        raise UserError(user_message(exc)) from None
    if text not in roles:
        raise argparse.ArgumentTypeError(f"unknown role {text!r}: config/access.yaml defines {', '.join(roles)}; "
                                         "pass one with --as")
    return text


def fraction(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 < value < 1:
        raise argparse.ArgumentTypeError(f"invalid fraction {text!r}: write a number between 0 and 1, e.g. 0.95")
    return value


def positive_int(text: str) -> int:
    if not text.strip().isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"invalid count {text!r}: write a whole number of at least 1")
    return int(text)


def catalog_url(text: str) -> str:
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        make_url(text)
    except ArgumentError:
        raise argparse.ArgumentTypeError(f"invalid catalog URL {text!r}: write a SQLAlchemy URL, e.g. "
                                         "sqlite:////tmp/rebuilt.sqlite") from None
    return text


# --- checks the sub-commands share ----------------------------------------------------------------------------

def cli_config() -> PostloanConfig:
    """config/ (or POSTLOAN_CONFIG_DIR), validated. A ConfigError is turned into one line by `guarded`."""
    return load_config(settings.config_dir())


def require_object_store(endpoint: str) -> None:
    """Refuse quickly (a TCP connect, CONNECT_TIMEOUT_SECONDS at most) when nothing answers at the endpoint,
    instead of the S3 client's minutes of retries."""
    host, _, port = endpoint.rpartition(":")
    host = host.strip("[]") or endpoint
    try:
        with socket.create_connection((host, int(port or 443)), timeout=CONNECT_TIMEOUT_SECONDS):
            return
    except ConnectionRefusedError:
        why = "connection refused"
    except (socket.timeout, TimeoutError):
        why = f"no answer within {CONNECT_TIMEOUT_SECONDS:.0f}s"
    except socket.gaierror:
        why = f"host {host!r} not found"
    except (OSError, ValueError) as exc:
        why = getattr(exc, "strerror", None) or str(exc)
    raise UserError(f"the object store at {endpoint} is not reachable ({why}): start it with `postloan s3 start` "
                    "(or `make s3-start`), or point POSTLOAN_S3_ENDPOINT at a running S3 server")


def last_complete_month(now: datetime | None = None) -> str:
    """The latest month that has ended (UTC), the last monthly partition Dagster offers."""
    now = now or datetime.now(timezone.utc)
    return (now.date().replace(day=1) - timedelta(days=1)).strftime("%Y-%m")


def quarter_of_month(month_text: str) -> str:
    return f"{month_text[:4]}Q{(int(month_text[5:7]) - 1) // 3 + 1}"


def last_complete_quarter(now: datetime | None = None) -> str:
    last = last_complete_month(now)
    year, mon = int(last[:4]), int(last[5:7])
    number = (mon - 1) // 3 + 1 - (0 if mon % 3 == 0 else 1)
    return f"{year - 1}Q4" if number == 0 else f"{year}Q{number}"


def require_runnable_month(cfg: PostloanConfig, period: str) -> None:
    """A month the monthly job has a partition for: from institution.yaml's first period to the last ended."""
    first, last = cfg.institution.calendar.first_period, last_complete_month()
    if period < first:
        raise UserError(f"month {period} is before the first period {first} (config/institution.yaml calendar."
                        f"first_period); run a month from {first} to {last}")
    if period > last:
        raise UserError(f"month {period} has not ended yet; run a month from {first} to {last}")


def require_runnable_quarter(cfg: PostloanConfig, label: str) -> None:
    first, last = quarter_of_month(cfg.institution.calendar.first_period), last_complete_quarter()
    if label < first:
        raise UserError(f"quarter {label} is before the first period's quarter {first} (config/institution.yaml "
                        f"calendar.first_period); run a quarter from {first} to {last}")
    if label > last:
        raise UserError(f"quarter {label} has not ended yet; run a quarter from {first} to {last}")


def sample_months(cfg: PostloanConfig) -> tuple[str, str]:
    return cfg.sample.start.strftime("%Y-%m"), cfg.sample.end.strftime("%Y-%m")


def require_sample_months(cfg: PostloanConfig, months: list[str]) -> None:
    """The bundled sample portfolio only has data from config/sample.yaml's start to its end."""
    first, last = sample_months(cfg)
    outside = [m for m in months if not first <= m <= last]
    if outside:
        raise UserError(f"month {', '.join(outside)} is outside the sample portfolio ({first} to {last}, "
                        f"config/sample.yaml start/end); deliver a month in that range")


# --- turning exceptions into one line -------------------------------------------------------------------------

def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def user_message(exc: BaseException) -> str | None:
    """The one-line message for an exception the user can fix; None for anything else (a bug: let it show)."""
    if isinstance(exc, (UserError, argparse.ArgumentTypeError)):
        return str(exc)
    if isinstance(exc, ConfigError):
        return f"configuration: {exc}; correct it and check with `postloan config check`"
    refusal = _refusal(exc)
    if refusal:
        return refusal
    unreachable = _unreachable(exc)
    if unreachable:
        return unreachable
    if isinstance(exc, OSError) and exc.filename is not None:
        return f"cannot use {str(exc.filename)!r}: {exc.strerror or exc}"
    return None


def _refusal(exc: BaseException) -> str | None:
    """Access refusals and the archive's own refusals (retention, holds, lookups)."""
    if isinstance(exc, (KeyError, IndexError)):
        return None
    if isinstance(exc, LookupError) or type(exc).__name__ in ("AccessDenied", "RetentionShorteningError",
                                                               "HoldError"):
        text = str(exc)
        return text if text.startswith("refused") else f"refused: {text}"
    return None


def _unreachable(exc: BaseException) -> str | None:
    """The object store or the catalog database stopped answering in the middle of a command."""
    module = type(exc).__module__
    if module.startswith("urllib3") or isinstance(exc, ConnectionError):
        pool = getattr(exc, "pool", None)
        where = f" at {pool.host}:{pool.port}" if pool is not None else ""
        reason = getattr(exc, "reason", None) or exc
        return (f"the object store{where} stopped answering ({_one_line(reason)}); check it with `postloan s3 status` "
                "and run the command again")
    if module.startswith("minio") and type(exc).__name__ == "S3Error":
        code = getattr(exc, "code", "")
        if code == "AccessDenied":
            where = "/".join(p for p in (getattr(exc, "bucket_name", None), getattr(exc, "object_name", None)) if p)
            return (f"the object store refused this to the S3 identity in use (AccessDenied"
                    f"{' on ' + where if where else ''}): its role may not do it (SECURITY.md); act with the "
                    "credentials of a role that may (`postloan s3 credentials ROLE` for the local server)")
        if code in ("InvalidAccessKeyId", "SignatureDoesNotMatch"):
            return (f"the object store refused the credentials ({code}): set POSTLOAN_S3_ACCESS_KEY and "
                    "POSTLOAN_S3_SECRET_KEY (config/storage.yaml names them)")
        if code in ("NoSuchBucket", "NoSuchKey", "NoSuchVersion"):
            return (f"the object store has no {getattr(exc, 'bucket_name', '') or ''}/"
                    f"{getattr(exc, 'object_name', '') or ''} ({code}): the catalog and the store disagree; "
                    "check with `postloan archive audit --as ROLE --reason WHY`")
    if module.startswith("sqlalchemy") and type(exc).__name__ == "OperationalError":
        return (f"the catalog database is not usable ({_one_line(getattr(exc, 'orig', exc))}): check "
                "POSTLOAN_CATALOG_URL or config/storage.yaml catalog_url")
    return None


def guarded(body: Callable[[], int]) -> int:
    """Run the command; a user error prints `postloan: error: …` (one line) and returns 2."""
    try:
        return body()
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # the reader of stdout went away (`postloan archive find | head`): not an error
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except Exception as exc:  # noqa: BLE001 - re-raised unless the user can fix it
        message = user_message(exc)
        if message is None:
            raise
        print(f"{PROG}: error: {_one_line(message)}", file=sys.stderr, flush=True)
        return EXIT_USER_ERROR
