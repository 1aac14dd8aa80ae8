"""`postloan plugins list [--kind KIND] [--json]`: the installed plugins, where each comes from, and whether it runs.

Every group of plugins/registry.py; the order is the run order of config/plugins.yaml (the enabled ones first,
numbered, then the disabled). Each enabled plugin is loaded with its settings, so a plugin that fails to load or
whose settings are wrong is one line naming it (`postloan: error: …`), exit code 2.
"""
from __future__ import annotations

import argparse
import json
from dataclasses import asdict

from pipelines.cli_errors import UserError, cli_config


def register_plugins_command(sub: argparse._SubParsersAction) -> None:
    """Add `plugins` to the top-level command line (pipelines/cli.py)."""
    from plugins.registry import GROUPS

    parser = sub.add_parser("plugins", help="the installed plugins: source, enabled, run order (config/plugins.yaml)")
    actions = parser.add_subparsers(dest="action", required=True, metavar="{list}")
    listing = actions.add_parser("list", help="every installed plugin of every group (or of --kind)")
    listing.add_argument("--kind", choices=sorted(GROUPS), help="one group only")
    listing.add_argument("--json", action="store_true", help="one JSON object per plugin, one a line")
    listing.set_defaults(func=cmd_plugins_list)


def cmd_plugins_list(args: argparse.Namespace) -> int:
    from plugins import registry

    cfg = cli_config()
    kinds = [args.kind] if args.kind else list(registry.GROUPS)
    try:
        for kind in kinds:
            registry.load(kind, cfg.plugins)  # loads each enabled plugin with its settings: a bad one is named
    except registry.PluginError as exc:
        raise UserError(f"{exc}; fix or uninstall that distribution, or disable it in config/plugins.yaml") from None
    rows = registry.installed(cfg.plugins, kinds)
    if args.json:
        for row in rows:
            print(json.dumps(asdict(row), ensure_ascii=False))
        return 0
    print(_table(rows))
    return 0


def _table(rows: list) -> str:
    header = ("kind", "#", "name", "enabled", "source", "target")
    lines = [(r.kind, str(r.position or "-"), r.name, "yes" if r.enabled else "no (disabled)",
              r.source + (" (built-in)" if r.builtin else ""), r.target) for r in rows]
    widths = [max(len(h), *(len(line[i]) for line in lines)) if lines else len(h) for i, h in enumerate(header)]
    fmt = "  ".join(f"{{:<{w}}}" for w in widths)
    return "\n".join(fmt.format(*line).rstrip() for line in [header, *lines])
