"""Plugins, built-in and third-party alike, discovered through Python entry points.

Every plugin is an entry point of one of the groups below; the project's own rules, models and extractors are
declared in its pyproject.toml exactly as a third party declares its own:

    [project.entry-points."postloan.classification_rules"]
    my_rule = "my_package.rules:MyRule"

The entry point's name is the plugin's name (a rule's or a model's `name` attribute must equal it). The object
may be a class (instantiated without arguments, or with its settings, below) or an instance.

config/plugins.yaml has one section per group (`Plugins` in plugins/config.py): `disabled` (names switched off),
`order` (names that run first, in that order; then the built-ins not named there, then the other plugins,
each by name: entry points carry no order, so the bundled file lists the built-ins' run order) and `settings` (per plugin). A plugin that declares `settings_model` (a pydantic
model) is instantiated as `Plugin(settings)`, its settings validated from `settings.<name>` of its group;
an error names the file, the key and the problem. docs/plugins.md describes each group's protocol.

This module imports no plugin at import time and nothing of Dagster; it gets the configuration as an argument
(without one, the bundled config/plugins.yaml, as load_config() without a folder).
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from importlib.metadata import EntryPoint, entry_points
from typing import Any, Protocol

from pydantic import ValidationError

from plugins.config import DEFAULT_CONFIG_DIR, ConfigError, PluginGroup, Plugins, load_yaml_model

PROJECT_DISTRIBUTION = "postloan"
CONFIG_FILE = "plugins.yaml"

# kind → entry-point group; the kind is also the section of config/plugins.yaml.
GROUPS = {
    "classification_rules": "postloan.classification_rules",   # per loan: sql(config) or evaluate(loan, config)
    "book_rules": "postloan.book_rules",                       # per book / debtor: apply(verdicts, facts, config)
    "provisioning_models": "postloan.provisioning_models",     # provisions(book, config) -> cents per loan
    "extractors": "postloan.extractors",                       # document readers (e.g. OCR)
    "validators": "postloan.validators",                       # validate(frames, month_end) -> problems
    "publishers": "postloan.publishers",                       # publish(Publication) -> receipt
    "archive_backends": "postloan.archive_backends",           # a factory of the object store, from S3 settings
    "institution_profiles": "postloan.institution_profiles",   # a kind of lender's defaults
}
# Groups whose entry points name a factory taking run-time arguments: handed over as loaded, not instantiated.
FACTORIES = {"archive_backends"}


class PluginError(RuntimeError):
    pass


@dataclass(frozen=True)
class Publication:
    """A published file handed to each enabled publisher after it was archived (the archive keeps the original).
    One protocol for every publisher, whatever it publishes (reports, notices)."""
    kind: str          # what was published: management_report, loan_classification, ...
    period: str        # YYYY-MM, or the quarter label
    file_name: str
    data: bytes
    sha256: str
    archive_url: str   # s3://bucket/key of the archived copy


class Publisher(Protocol):
    name: str

    def publish(self, publication: Publication) -> str:
        """Deliver the file; returns a receipt (where it went), recorded in the run's metadata."""
        ...


@dataclass(frozen=True)
class InstalledPlugin:
    """One entry point as `postloan plugins list` shows it."""
    kind: str
    name: str
    target: str          # module:attribute
    source: str          # the distribution that declares it, with its version
    builtin: bool
    enabled: bool
    position: int | None  # its place in the run order (1-based) when enabled


class RuleSet(tuple):
    """The per-loan rules, in order, carrying the book-level rules to run after them (`book_rules`): what the
    classification engine takes as its `rules`. A plain tuple of rules gets the built-in book rules there."""
    book_rules: tuple = ()

    def __new__(cls, loan_rules: Sequence[Any], book_rules: Sequence[Any]) -> "RuleSet":
        self = super().__new__(cls, tuple(loan_rules))
        self.book_rules = tuple(book_rules)
        return self


# ------------------------------------------------------------------ discovery


def _entry_points(kind: str) -> list[EntryPoint]:
    if kind not in GROUPS:
        raise PluginError(f"unknown plugin kind {kind!r}; kinds: {', '.join(GROUPS)}")
    seen, found = set(), []
    for ep in entry_points(group=GROUPS[kind]):
        if ep.name not in seen:  # the first on the path wins, as for imports
            seen.add(ep.name)
            found.append(ep)
    return found


def _source(ep: EntryPoint) -> str:
    dist = ep.dist
    return f"{dist.name} {dist.version}" if dist is not None else "unknown distribution"


def _is_builtin(ep: EntryPoint) -> bool:
    return ep.dist is not None and ep.dist.name == PROJECT_DISTRIBUTION


@cache
def _bundled() -> Plugins:
    """The bundled config/plugins.yaml: what a caller that passes no configuration gets (the built-ins' order)."""
    return load_yaml_model(DEFAULT_CONFIG_DIR / CONFIG_FILE, Plugins)


def _section(plugins_config: Plugins | None, kind: str) -> PluginGroup:
    return getattr(plugins_config if plugins_config is not None else _bundled(), kind)


def _ordered(kind: str, section: PluginGroup) -> list[EntryPoint]:
    """Enabled entry points in run order: those named in `order`, then the other built-ins, then the other
    plugins, each by name."""
    eps = _entry_points(kind)
    names = {ep.name for ep in eps}
    for key in ("order", "disabled"):
        unknown = [n for n in getattr(section, key) if n not in names]
        if unknown:
            raise ConfigError(f"{CONFIG_FILE}: key '{kind}.{key}': {', '.join(map(repr, unknown))} not installed; "
                              f"installed: {', '.join(sorted(names)) or 'none'}")
    by_name = {ep.name: ep for ep in eps}
    first = [by_name[n] for n in section.order]
    rest = sorted((ep for ep in eps if ep.name not in section.order), key=lambda e: (not _is_builtin(e), e.name))
    return [ep for ep in first + rest if ep.name not in section.disabled]


def installed(plugins_config: Plugins | None = None, kinds: Sequence[str] = tuple(GROUPS)) -> list[InstalledPlugin]:
    """Every installed plugin of `kinds` (enabled ones in run order, then the disabled), without loading any."""
    listed = []
    for kind in kinds:
        section = _section(plugins_config, kind)
        enabled = _ordered(kind, section)
        for position, ep in enumerate(enabled, start=1):
            listed.append(InstalledPlugin(kind, ep.name, ep.value, _source(ep), _is_builtin(ep), True, position))
        for ep in sorted((e for e in _entry_points(kind) if e.name in section.disabled), key=lambda e: e.name):
            listed.append(InstalledPlugin(kind, ep.name, ep.value, _source(ep), _is_builtin(ep), False, None))
    return listed


def _settings_error(kind: str, name: str, exc: ValidationError) -> ConfigError:
    problems = "; ".join(f"key '{'.'.join([kind, 'settings', name, *map(str, e['loc'])])}': {e['msg']}"
                         for e in exc.errors())
    return ConfigError(f"{CONFIG_FILE}: {problems}")


def _instantiate(kind: str, ep: EntryPoint, section: PluginGroup) -> Any:
    try:
        obj = ep.load()
    except Exception as exc:  # a broken third-party plugin must say which one
        raise PluginError(f"plugin {ep.name!r} ({ep.value}) in group {ep.group} failed to load: {exc}") from exc
    model = getattr(obj, "settings_model", None)
    raw = section.settings.get(ep.name)
    if model is None and raw is not None:
        raise ConfigError(f"{CONFIG_FILE}: key '{kind}.settings.{ep.name}': plugin {ep.name!r} takes no settings")
    if kind in FACTORIES:
        return obj
    if model is not None:
        if not isinstance(obj, type):
            raise PluginError(f"plugin {ep.name!r} ({ep.value}) declares settings_model but is not a class")
        try:
            settings = model.model_validate(raw or {})
        except ValidationError as exc:
            raise _settings_error(kind, ep.name, exc) from None
        plugin = obj(settings)
    else:
        plugin = obj() if isinstance(obj, type) else obj
    declared = getattr(plugin, "name", ep.name)
    if declared != ep.name:
        raise PluginError(f"plugin {ep.name!r} ({ep.value}) in group {ep.group} calls itself {declared!r}: "
                          "the entry point's name must be the plugin's name")
    return plugin


def load(kind: str, plugins_config: Plugins | None = None) -> list[Any]:
    """The enabled plugins of `kind`, in run order, each instantiated with its settings."""
    section = _section(plugins_config, kind)
    unknown = sorted(set(section.settings) - {ep.name for ep in _entry_points(kind)})
    if unknown:
        raise ConfigError(f"{CONFIG_FILE}: key '{kind}.settings': {', '.join(map(repr, unknown))} not installed")
    return [_instantiate(kind, ep, section) for ep in _ordered(kind, section)]


def check(plugins_config: Plugins) -> list[InstalledPlugin]:
    """Load every enabled plugin of every group with its settings (what `postloan plugins list` and
    `postloan config check` run): raises ConfigError or PluginError naming the first problem."""
    for kind in GROUPS:
        load(kind, plugins_config)
    return installed(plugins_config)


# ------------------------------------------------------------------ per group


def discover(kind: str, plugins_config: Plugins | None = None) -> list[Any]:
    """Instances of every enabled plugin registered for `kind`, in run order (kept for existing callers)."""
    return load(kind, plugins_config)


def classification_rules(plugins_config: Plugins | None = None) -> RuleSet:
    """The per-loan rules in run order, carrying the book-level (debtor) rules: what the engine takes."""
    return RuleSet(load("classification_rules", plugins_config), load("book_rules", plugins_config))


def book_rules(plugins_config: Plugins | None = None) -> list[Any]:
    return load("book_rules", plugins_config)


def provisioning_models(plugins_config: Plugins | None = None) -> list[Any]:
    return load("provisioning_models", plugins_config)


def publishers(plugins_config: Plugins | None = None) -> list[Publisher]:
    return load("publishers", plugins_config)


def extractor(name: str, plugins_config: Plugins | None = None) -> Any | None:
    """The document extractor registered under `name` (an optional one, e.g. OCR) when enabled, or None."""
    section = _section(plugins_config, "extractors")
    for ep in _ordered("extractors", section):
        if ep.name == name:
            return _instantiate("extractors", ep, section)
    return None
