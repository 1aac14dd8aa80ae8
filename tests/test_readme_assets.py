"""The README's asset table names what the Definitions define (issue 15 item 8): a renamed or added asset or
check that the table does not follow fails here, so the names a newcomer reads cannot drift."""
from __future__ import annotations

import re

from pipelines.settings import REPO_ROOT


def _readme_table() -> tuple[set[str], set[str]]:
    """(asset names, check names) of the first column of the table under "## What runs"."""
    text = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("## What runs", 1)[1].split("\n## ", 1)[0]
    assets, checks = set(), set()
    for line in section.splitlines():
        if not line.startswith("| ") or line.startswith("| asset") or line.startswith("|---"):
            continue
        first = line.split("|")[1]  # `a`, `b` | … or check `c` | … or `a`, check `c` | …
        named_assets, named_checks = (re.split(r"\bchecks?\b", first, maxsplit=1) + [""])[:2]
        assets.update(re.findall(r"`([a-z0-9_]+)`", named_assets))
        checks.update(re.findall(r"`([a-z0-9_]+)`", named_checks))
    return assets, checks


def _definitions() -> tuple[set[str], set[str]]:
    from pipelines.definitions import defs

    graph = defs.resolve_asset_graph()
    assets = {key.to_user_string() for key in graph.get_all_asset_keys()}
    checks = {key.name for key in graph.asset_check_keys}
    return assets, checks


def test_every_asset_in_the_readme_table_is_defined_and_every_defined_asset_is_in_it():
    readme, defined = _readme_table()[0], _definitions()[0]
    assert sorted(readme - defined) == []  # named in the README, not defined
    assert sorted(defined - readme) == []  # defined, not in the README's table


def test_every_check_in_the_readme_table_is_defined():
    readme, defined = _readme_table()[1], _definitions()[1]
    assert sorted(readme - defined) == []
