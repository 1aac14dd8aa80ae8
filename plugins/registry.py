"""Third-party plugins, discovered through Python entry points.

A package adds, for example, a classification rule by declaring in its pyproject:

    [project.entry-points."postloan.classification_rules"]
    my_rule = "my_package.rules:MyRule"

The object may be a class (instantiated without arguments) or an instance.
"""
from __future__ import annotations

from importlib.metadata import entry_points
from typing import Any

GROUPS = {
    "classification_rules": "postloan.classification_rules",
    "provisioning_models": "postloan.provisioning_models",
    "extractors": "postloan.extractors",
    "publishers": "postloan.publishers",
}


class PluginError(RuntimeError):
    pass


def discover(kind: str) -> list[Any]:
    """Instances of every plugin registered for `kind`, sorted by entry-point name."""
    found = []
    for ep in sorted(entry_points(group=GROUPS[kind]), key=lambda e: e.name):
        try:
            obj = ep.load()
        except Exception as exc:  # a broken third-party plugin must say which one
            raise PluginError(f"plugin {ep.name!r} ({ep.value}) in group {ep.group} failed to load: {exc}") from exc
        found.append(obj() if isinstance(obj, type) else obj)
    return found


def extractor(name: str) -> Any | None:
    """The document extractor registered under `name` (an optional one, e.g. OCR), or None."""
    for ep in entry_points(group=GROUPS["extractors"], name=name):
        try:
            obj = ep.load()
        except Exception as exc:
            raise PluginError(f"plugin {ep.name!r} ({ep.value}) in group {ep.group} failed to load: {exc}") from exc
        return obj() if isinstance(obj, type) else obj
    return None


def classification_rules() -> list[Any]:
    from plugins.classification.rules import DEFAULT_RULES

    return [*DEFAULT_RULES, *discover("classification_rules")]


def provisioning_models() -> list[Any]:
    from plugins.provisioning.methods import DEFAULT_MODELS

    return [*DEFAULT_MODELS, *discover("provisioning_models")]
