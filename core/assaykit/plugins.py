"""The plugin host: discovery, version checks, blocking, and the registries built from hooks.

There is no global plugin manager: each :class:`PluginHost` is built from a
:class:`HostConfig`, so a pipeline can run two differently configured hosts
side by side and a worker process can rebuild exactly the parent's host.
"""

from __future__ import annotations

import importlib
import importlib.metadata as md
import logging
import os
import warnings
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import pluggy
from packaging.requirements import InvalidRequirement, Requirement
from packaging.version import InvalidVersion, Version

from assaykit import hookspecs
from assaykit._version import __version__
from assaykit.assay import Assay, declaration_problems
from assaykit.errors import PluginCompatibilityWarning, PluginError, UnknownAssayError
from assaykit.readers import Reader
from assaykit.records import Exporter

log = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "assaykit"
ENV_DISABLE_AUTOLOAD = "ASSAYKIT_DISABLE_PLUGIN_AUTOLOAD"
ENV_BLOCK = "ASSAYKIT_BLOCK_PLUGINS"
ENV_LOAD = "ASSAYKIT_PLUGINS"
BUILTIN_NAME = "assaykit.builtin"


def _split_env(name: str) -> tuple[str, ...]:
    raw = os.environ.get(name, "")
    return tuple(p.strip() for p in raw.split(",") if p.strip())


def _env_flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() not in ("", "0", "false", "no")


@dataclass(frozen=True)
class HostConfig:
    """How to build a host. Picklable, so worker processes build the same host.

    - ``autoload``: load every plugin of the ``assaykit`` entry-point group
      (off when ``ASSAYKIT_DISABLE_PLUGIN_AUTOLOAD`` is set);
    - ``load``: entry-point names to load even with autoload off
      (``ASSAYKIT_PLUGINS``, comma separated; ``-p NAME`` on the CLI);
    - ``block``: entry-point or distribution names never to load
      (``ASSAYKIT_BLOCK_PLUGINS``; ``--block-plugin NAME`` on the CLI);
    - ``modules``: importable module names registered directly as plugins,
      for pipelines that carry a plugin without packaging it.
    """

    autoload: bool = True
    load: tuple[str, ...] = ()
    block: tuple[str, ...] = ()
    modules: tuple[str, ...] = ()

    @classmethod
    def from_env(
        cls,
        *,
        autoload: bool | None = None,
        load: Iterable[str] = (),
        block: Iterable[str] = (),
        modules: Iterable[str] = (),
    ) -> HostConfig:
        auto = (not _env_flag(ENV_DISABLE_AUTOLOAD)) if autoload is None else autoload
        return cls(
            autoload=auto,
            load=tuple(dict.fromkeys((*_split_env(ENV_LOAD), *load))),
            block=tuple(dict.fromkeys((*_split_env(ENV_BLOCK), *block))),
            modules=tuple(modules),
        )


@dataclass
class PluginInfo:
    """One discovered plugin and what became of it."""

    name: str
    distribution: str | None
    version: str | None
    status: str  # loaded | blocked | disabled | incompatible | failed
    reason: str = ""
    assays: list[str] = field(default_factory=list)
    readers: list[str] = field(default_factory=list)
    exporters: list[str] = field(default_factory=list)


def _host_requirement_problem(dist: md.Distribution) -> str | None:
    """Why this host's version does not satisfy the distribution's requirement on assaykit."""
    for req_s in dist.requires or []:
        try:
            req = Requirement(req_s)
        except InvalidRequirement:
            continue
        if req.name.lower().replace("_", "-") != "assaykit":
            continue
        if req.marker is not None and not req.marker.evaluate({"extra": ""}):
            continue
        try:
            ok = req.specifier.contains(Version(__version__), prereleases=True)
        except InvalidVersion:  # pragma: no cover - our own version is valid
            ok = True
        if not ok:
            return f"requires assaykit{req.specifier}, but this is assaykit {__version__}"
    return None


#: status of a discovered plugin that the host will import and register
TO_LOAD = "to load"


@dataclass(frozen=True)
class PluginEntry:
    """One plugin as its entry-point metadata describes it, read without importing it.

    ``status`` is :data:`TO_LOAD`, or why the host will not load it:
    ``blocked``, ``disabled`` (autoload off) or ``incompatible`` (the
    distribution requires another assaykit).
    """

    name: str
    #: the entry point's value: the plugin's declaration module (``pkg.plugin``)
    module: str
    distribution: str | None
    version: str | None
    status: str
    reason: str
    entry_point: md.EntryPoint = field(repr=False, compare=False)

    def info(self) -> PluginInfo:
        status = "loaded" if self.status == TO_LOAD else self.status
        return PluginInfo(self.name, self.distribution, self.version, status, self.reason)

    def describe(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "module": self.module,
            "version": self.version,
            "distribution": self.distribution,
            "status": self.status,
            "reason": self.reason,
        }


def discover_plugins(config: HostConfig) -> list[PluginEntry]:
    """The plugins of the ``assaykit`` entry-point group, from their metadata alone.

    Nothing is imported: the host imports a plugin's declaration module only
    when it builds its registries (:class:`PluginHost`), and a plugin's heavy
    analysis code only runs inside ``Assay.analyze``. Raises
    :class:`PluginError` when ``config.load`` names an entry point that does
    not exist.
    """
    try:
        eps = md.entry_points(group=ENTRY_POINT_GROUP)
    except Exception as exc:  # pragma: no cover - broken metadata on sys.path
        log.warning("cannot list entry points: %s", exc)
        return []
    out: list[PluginEntry] = []
    seen: set[str] = set()
    for ep in sorted(eps, key=lambda e: e.name):
        if ep.name in seen:  # the same distribution found twice on sys.path
            continue
        seen.add(ep.name)
        dist = ep.dist
        dist_name = dist.metadata["Name"] if dist is not None else None
        version = dist.version if dist is not None else None
        status, reason = TO_LOAD, ""
        if ep.name in config.block or (dist_name is not None and dist_name in config.block):
            status, reason = "blocked", "blocked by configuration"
        elif not config.autoload and ep.name not in config.load:
            status, reason = "disabled", f"autoload is off ({ENV_DISABLE_AUTOLOAD})"
        elif dist is not None and (dist_name or "").lower() != "assaykit":
            problem = _host_requirement_problem(dist)
            if problem:
                status, reason = "incompatible", problem
        out.append(PluginEntry(ep.name, ep.value, dist_name, version, status, reason, ep))
    for name in config.load:
        if name not in seen:
            raise PluginError(
                f"plugin {name!r} was asked for but no entry point of group "
                f"{ENTRY_POINT_GROUP!r} has that name"
            )
    return out


class PluginHost:
    """Finds plugins and holds the assays, readers and exporters they register."""

    def __init__(self, config: HostConfig | None = None, *, extra: Iterable[Any] = ()) -> None:
        self.config = config if config is not None else HostConfig.from_env()
        self.pm = pluggy.PluginManager(hookspecs.PROJECT_NAME)
        self.pm.add_hookspecs(hookspecs)
        self.plugins: dict[str, PluginInfo] = {}
        self.assays: dict[str, Assay] = {}
        self.readers: list[Reader] = []
        self.exporters: dict[str, Exporter] = {}
        self._owner: dict[int, PluginInfo] = {}
        self._register_builtin()
        self._discover()
        for modname in self.config.modules:
            self._register_module(modname)
        for obj in extra:
            name = getattr(obj, "__name__", None) or type(obj).__name__
            self._register(obj, name, PluginInfo(name, None, None, "loaded", "registered directly"))
        try:
            self.pm.check_pending()
        except pluggy.PluginValidationError as exc:
            raise PluginError(f"plugin {exc.plugin!r} implements an unknown hook: {exc}") from exc
        self._collect()

    # -- discovery ---------------------------------------------------------------------
    def _register_builtin(self) -> None:
        from assaykit import _builtin

        info = PluginInfo(BUILTIN_NAME, "assaykit", __version__, "loaded", "host built-ins")
        self._register(_builtin, BUILTIN_NAME, info)

    def _register(self, obj: Any, name: str, info: PluginInfo) -> None:
        try:
            self.pm.register(obj, name=name)
        except pluggy.PluginValidationError as exc:
            raise PluginError(f"plugin {name!r} breaks the hook contract: {exc}") from exc
        except ValueError as exc:
            raise PluginError(f"plugin {name!r} could not be registered: {exc}") from exc
        self.plugins[name] = info
        self._owner[id(obj)] = info

    def _register_module(self, modname: str) -> None:
        try:
            mod = importlib.import_module(modname)
        except Exception as exc:
            raise PluginError(f"plugin module {modname!r} failed to import: {exc}") from exc
        self._register(mod, modname, PluginInfo(modname, None, None, "loaded", "module"))

    def _skip(self, info: PluginInfo, status: str, reason: str, *, warn: bool) -> None:
        info.status, info.reason = status, reason
        self.plugins[info.name] = info
        if warn:
            msg = f"assaykit plugin {info.name!r} skipped: {reason}"
            log.warning(msg)
            warnings.warn(msg, PluginCompatibilityWarning, stacklevel=3)

    def _discover(self) -> None:
        for entry in discover_plugins(self.config):
            info = entry.info()
            if entry.status != TO_LOAD:
                self._skip(info, entry.status, entry.reason, warn=entry.status == "incompatible")
                continue
            try:
                obj = entry.entry_point.load()
            except Exception as exc:
                self._skip(info, "failed", f"import failed: {type(exc).__name__}: {exc}", warn=True)
                continue
            api = getattr(obj, "ASSAYKIT_API_VERSION", hookspecs.HOOK_API_VERSION)
            if api != hookspecs.HOOK_API_VERSION:
                self._skip(
                    info,
                    "incompatible",
                    f"written for hook API {api}, this host speaks {hookspecs.HOOK_API_VERSION}",
                    warn=True,
                )
                continue
            self._register(obj, entry.name, info)

    # -- registries --------------------------------------------------------------------
    def _callbacks(self, hook_name: str) -> list[tuple[PluginInfo, Callable[..., Any]]]:
        hook = getattr(self.pm.hook, hook_name)
        out = []
        for impl in hook.get_hookimpls():  # registration order
            info = self._owner.get(id(impl.plugin)) or self.plugins[impl.plugin_name]
            out.append((info, impl.function))
        return out

    def _collect(self) -> None:
        for info, fn in self._callbacks("assaykit_register_assays"):
            fn(register=lambda a, _i=info: self._add_assay(_i, a))
        for info, fn in self._callbacks("assaykit_register_readers"):
            fn(register=lambda r, _i=info: self._add_reader(_i, r))
        for info, fn in self._callbacks("assaykit_register_exporters"):
            fn(register=lambda e, _i=info: self._add_exporter(_i, e))

    def _add_assay(self, info: PluginInfo, assay: Assay) -> None:
        if not isinstance(assay, Assay):
            raise PluginError(f"plugin {info.name!r} registered {assay!r}, not an assaykit.Assay")
        problems = declaration_problems(assay)
        if problems:
            raise PluginError(
                f"plugin {info.name!r}, assay {getattr(assay, 'name', '?')!r}: "
                + "; ".join(problems)
            )
        if assay.name in self.assays:
            other = self.assay_plugin(assay.name)
            raise PluginError(
                f"assay {assay.name!r} is registered by both {other!r} and {info.name!r}; "
                f"block one of them with --block-plugin"
            )
        self.assays[assay.name] = assay
        self._owner[id(assay)] = info
        info.assays.append(assay.name)

    def _add_reader(self, info: PluginInfo, reader: Reader) -> None:
        if not isinstance(reader, Reader):
            raise PluginError(f"plugin {info.name!r} registered {reader!r}, not an assaykit.Reader")
        for s in reader.suffixes:
            if s != s.lower() or not s.startswith("."):
                raise PluginError(f"plugin {info.name!r}: reader suffix {s!r} must be '.lower'")
            for other in self.readers:
                if s in other.suffixes:
                    raise PluginError(
                        f"suffix {s!r} is claimed by readers of both "
                        f"{self._owner[id(other)].name!r} and {info.name!r}"
                    )
        self.readers.append(reader)
        self._owner[id(reader)] = info
        info.readers.append(f"{reader.kind}:{','.join(reader.suffixes)}")

    def _add_exporter(self, info: PluginInfo, exporter: Exporter) -> None:
        if not isinstance(exporter, Exporter):
            raise PluginError(
                f"plugin {info.name!r} registered {exporter!r}, not an assaykit.Exporter"
            )
        if exporter.name in self.exporters:
            raise PluginError(f"exporter {exporter.name!r} is registered twice")
        self.exporters[exporter.name] = exporter
        self._owner[id(exporter)] = info
        info.exporters.append(exporter.name)

    # -- lookups -----------------------------------------------------------------------
    def get_assay(self, name: str) -> Assay:
        try:
            return self.assays[name]
        except KeyError:
            known = ", ".join(sorted(self.assays)) or "none"
            raise UnknownAssayError(
                f"unknown assay {name!r}; installed assays: {known} (see `assaykit plugins`)"
            ) from None

    def assay_plugin(self, name: str) -> str:
        return self._owner[id(self.assays[name])].name

    def reader_for(self, path: os.PathLike[str] | str) -> Reader | None:
        suffix = os.path.splitext(os.fspath(path))[1].lower()
        for r in self.readers:
            if suffix in r.suffixes:
                return r
        return None

    def readers_by_kind(self) -> dict[str, Reader]:
        out: dict[str, Reader] = {}
        for r in self.readers:
            out.setdefault(r.kind, r)
        return out

    def suffixes_for_kinds(self, kinds: Iterable[str]) -> list[str]:
        ks = set(kinds)
        return sorted(s for r in self.readers if r.kind in ks for s in r.suffixes)

    def _sorted_plugins(self) -> list[PluginInfo]:
        return sorted(self.plugins.values(), key=lambda i: (i.name != BUILTIN_NAME, i.name))

    def plugin_status(self) -> list[dict[str, Any]]:
        """Every plugin's name, version, distribution and status (for ``run.json``);
        unlike :meth:`describe`, asks no assay or exporter anything."""
        return [
            {
                "name": info.name,
                "version": info.version,
                "distribution": info.distribution,
                "status": info.status,
                "reason": info.reason,
            }
            for info in self._sorted_plugins()
        ]

    def describe(self) -> list[dict[str, Any]]:
        """Every plugin with its assays' declarations, for ``assaykit plugins --json``."""
        out = []
        for info in self._sorted_plugins():
            out.append(
                {
                    "name": info.name,
                    "version": info.version,
                    "distribution": info.distribution,
                    "status": info.status,
                    "reason": info.reason,
                    "assays": [self.assays[a].describe() for a in info.assays],
                    "readers": [
                        {"kind": r.kind, "suffixes": list(r.suffixes), "name": r.name}
                        for r in self.readers
                        if self._owner[id(r)] is info
                    ],
                    "exporters": [
                        {
                            "name": e.name,
                            "summary": e.summary,
                            "available": e.available(),
                        }
                        for e in self.exporters.values()
                        if self._owner[id(e)] is info
                    ],
                }
            )
        return out


_HOST_CACHE: dict[HostConfig, PluginHost] = {}


def host_for(config: HostConfig) -> PluginHost:
    """The host for a config, built once per process (worker processes reuse it)."""
    host = _HOST_CACHE.get(config)
    if host is None:
        host = _HOST_CACHE[config] = PluginHost(config)
    return host
