"""Progress bars for long command-line work (backfills, bulk downloads): tqdm on stderr, only when stderr is
a terminal and the output is not for a script (--json); otherwise nothing is drawn and lines are printed as
before, so logs and pipes stay clean."""
from __future__ import annotations

import sys
from typing import Iterable, Iterator, TypeVar

T = TypeVar("T")


def wanted(json_output: bool = False) -> bool:
    """Draw a bar: stderr is a terminal and the command's output is not for a script."""
    return not json_output and sys.stderr.isatty()


def progress(items: Iterable[T], total: int | None = None, desc: str = "", json_output: bool = False,
             unit: str = "it") -> Iterator[T]:
    """`items`, with a tqdm bar on stderr when `wanted`; the bare iterable otherwise."""
    if not wanted(json_output):
        yield from items
        return
    from tqdm import tqdm

    yield from tqdm(items, total=total, desc=desc, unit=unit, file=sys.stderr, dynamic_ncols=True, leave=True)
