"""The plugin host: discovery, version checks, blocking, and the registries built from hooks.

There is no global plugin manager: each :class:`PluginHost` is built from a
:class:`HostConfig`, so a pipeline can run two differently configured hosts
side by side and a worker process can rebuild exactly the parent's host.
"""

from __future__ import annotations

import importlib
import importlib.metadata as md
import logging
import math
import os
import warnings
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pluggy
from packaging.requirements import InvalidRequirement, Requirement
from packaging.version import InvalidVersion, Version

from assaykit import hookspecs
from assaykit._version import __version__
from assaykit.assay import Assay, declaration_problems
from assaykit.errors import PluginCompatibilityWarning, PluginError, UnknownAssayError
from assaykit.readers import SUFFIX_ONLY, Reader, read_head, suffix_problem
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


@dataclass(frozen=True)
class ReaderChoice:
    """Which reader reads one file, and why (see :meth:`PluginHost.choose_reader`).

    ``reader`` is None when no reader claims the file, or when two readers
    claim it equally: then ``conflict`` names both and the file. ``skipped``
    says which readers were left out because their ``sniff`` failed.
    """

    reader: Reader | None
    key: str = ""
    suffix: str = ""
    score: float | None = None
    conflict: str = ""
    skipped: tuple[str, ...] = ()


class _BrokenRegistration(Exception):
    pass


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
        self._reader_key: dict[int, str] = {}
        self._by_key: dict[str, Reader] = {}
        self._choices: dict[tuple[Any, ...], ReaderChoice] = {}
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
            added: list[Reader] = []
            try:
                fn(register=lambda r, _i=info, _a=added: _a.append(self._check_reader(_i, r)))
            except _BrokenRegistration as exc:
                self._drop(info, str(exc))
                continue
            except Exception as exc:
                self._drop(info, f"assaykit_register_readers raised {type(exc).__name__}: {exc}")
                continue
            for r in added:
                self._add_reader(info, r)
        for info, fn in self._callbacks("assaykit_register_exporters"):
            if info.status != "loaded":
                continue
            fn(register=lambda e, _i=info: self._add_exporter(_i, e))

    def _drop(self, info: PluginInfo, reason: str) -> None:
        """Skip a plugin whose registration is broken: forget what it registered, warn."""
        for name in list(info.assays):
            self.assays.pop(name, None)
        info.assays.clear()
        self._skip(info, "failed", f"{reason}; its assays and readers are not used", warn=True)

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

    def _check_reader(self, info: PluginInfo, reader: Any) -> Reader:
        """A reader registration as the contract wants it, else _BrokenRegistration."""
        if not isinstance(reader, Reader):
            raise _BrokenRegistration(f"it registered {reader!r}, not an assaykit.Reader")
        kind = getattr(reader, "kind", None)
        suffixes = getattr(reader, "suffixes", None)
        if not isinstance(kind, str) or not kind:
            raise _BrokenRegistration(f"reader {type(reader).__name__} has no kind")
        if not isinstance(suffixes, tuple | list) or not suffixes:
            raise _BrokenRegistration(f"reader {type(reader).__name__} claims no suffixes")
        for s in suffixes:
            problem = suffix_problem(s)
            if problem:
                raise _BrokenRegistration(f"reader {type(reader).__name__}: suffix {problem}")
        return reader

    def _add_reader(self, info: PluginInfo, reader: Reader) -> None:
        """Readers may share suffixes: :meth:`choose_reader` ranks them per file."""
        key = f"{info.name}:{type(reader).__qualname__}"
        n = 2
        while key in self._by_key:
            key, n = f"{info.name}:{type(reader).__qualname__}#{n}", n + 1
        self.readers.append(reader)
        self._owner[id(reader)] = info
        self._reader_key[id(reader)] = key
        self._by_key[key] = reader
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

    def reader_for(
        self, path: os.PathLike[str] | str, *, kinds: Iterable[str] | None = None
    ) -> Reader | None:
        """The reader that wins ``path`` (None when none claims it or two tie);
        see :meth:`choose_reader`."""
        return self.choose_reader(path, kinds=kinds).reader

    def choose_reader(
        self, path: os.PathLike[str] | str, *, kinds: Iterable[str] | None = None
    ) -> ReaderChoice:
        """Rank the readers that claim a file and return the winner.

        The ranking, best first:

        1. the longest matching suffix (``.plate.csv`` beats ``.csv``; suffixes
           match whole parts of the name's ``Path.suffixes``);
        2. the highest :meth:`Reader.sniff` score on the file's first
           :data:`assaykit.readers.SNIFF_BYTES` bytes (a reader that returns
           None is not a candidate; one whose sniff raises is skipped, and the
           choice says so in ``skipped``);
        3. a plugin's reader before a built-in one.

        Two readers still equal after that is a conflict: no reader, and
        ``conflict`` names both and the file (the batch turns the file into an
        error record). Only readers whose kind is in ``kinds`` compete, when
        given. A file that does not exist is ranked by suffix alone, without a
        conflict (it is reported missing instead). Cached per file state.
        """
        p = Path(os.fspath(path))
        kset = None if kinds is None else tuple(sorted(set(kinds)))
        cands = [
            (r, s)
            for r in self.readers
            if kset is None or r.kind in kset
            if (s := r.matched_suffix(p.name)) is not None
        ]
        if not cands:
            return ReaderChoice(None)
        try:
            st = p.stat() if p.is_file() else None
        except OSError:
            st = None
        ckey = (str(p), kset, st.st_size if st else None, st.st_mtime_ns if st else None)
        hit = self._choices.get(ckey)
        if hit is not None:
            return hit
        # the head is read only when a candidate sniffs, so FCS-only folders open nothing more
        head = read_head(p) if st is not None and any(r.sniffs for r, _ in cands) else None
        skipped: list[str] = []
        ranked: list[tuple[int, float, bool, Reader, str]] = []
        for r, s in cands:
            score: Any = SUFFIX_ONLY
            if head is not None and r.sniffs:
                try:
                    score = r.sniff(p, head)
                except Exception as exc:
                    why = f"sniff raised {type(exc).__name__}: {exc}"
                    skipped.append(f"{self._describe_reader(r)} skipped for {p.name}: {why}")
                    log.warning("%s", skipped[-1])
                    continue
                if score is None:
                    continue
                if (
                    isinstance(score, bool)
                    or not isinstance(score, int | float)
                    or not math.isfinite(score)
                ):
                    skipped.append(
                        f"{self._describe_reader(r)} skipped for {p.name}: sniff returned "
                        f"{score!r}, not a finite number or None"
                    )
                    log.warning("%s", skipped[-1])
                    continue
            builtin = self._owner[id(r)].name == BUILTIN_NAME
            ranked.append((len(s), float(score), not builtin, r, s))
        if not ranked:
            choice = ReaderChoice(None, skipped=tuple(skipped))
        else:
            ranked.sort(key=lambda t: t[:3], reverse=True)  # stable: registration order
            best = ranked[0]
            ties = [t for t in ranked if t[:3] == best[:3]]
            if len(ties) > 1 and st is not None:
                names = " and ".join(self._describe_reader(t[3]) for t in ties)
                choice = ReaderChoice(
                    None,
                    conflict=(
                        f"{p.name}: readers {names} claim it equally (suffix {best[4]!r}, "
                        f"sniff score {best[1]:g}); block one of the plugins with "
                        "--block-plugin NAME, or make one reader's sniff() more specific"
                    ),
                    skipped=tuple(skipped),
                )
            else:
                r = best[3]
                choice = ReaderChoice(
                    r, self._reader_key[id(r)], best[4], best[1], skipped=tuple(skipped)
                )
        self._choices[ckey] = choice
        return choice

    def _describe_reader(self, r: Reader) -> str:
        return f"{r.name or type(r).__name__!r} (plugin {self._owner[id(r)].name!r})"

    def reader_key(self, reader: Reader) -> str:
        """The reader's stable name in this host: ``plugin:ClassName``."""
        return self._reader_key[id(reader)]

    def readers_by_key(self) -> dict[str, Reader]:
        return dict(self._by_key)

    def readers_by_kind(self) -> dict[str, Reader]:
        """One reader per kind (the first registered: the built-in for the host's kinds),
        for inputs built without a reader key."""
        out: dict[str, Reader] = {}
        for r in self.readers:
            out.setdefault(r.kind, r)
        return out

    def suffixes_for_kinds(self, kinds: Iterable[str]) -> list[str]:
        ks = set(kinds)
        return sorted({s for r in self.readers if r.kind in ks for s in r.suffixes})

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
                        {
                            "kind": r.kind,
                            "suffixes": list(r.suffixes),
                            "name": r.name,
                            "key": self._reader_key[id(r)],
                            "sniffs": r.sniffs,
                            "shares": self._shared_suffixes(r),
                        }
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


    def _shared_suffixes(self, reader: Reader) -> dict[str, list[str]]:
        """Each of the reader's suffixes that other readers also claim, with their keys."""
        out: dict[str, list[str]] = {}
        for s in reader.suffixes:
            others = [self._reader_key[id(o)] for o in self.readers
                      if o is not reader and s in o.suffixes]  # fmt: skip
            if others:
                out[s] = others
        return out


_HOST_CACHE: dict[HostConfig, PluginHost] = {}


def host_for(config: HostConfig) -> PluginHost:
    """The host for a config, built once per process (worker processes reuse it)."""
    host = _HOST_CACHE.get(config)
    if host is None:
        host = _HOST_CACHE[config] = PluginHost(config)
    return host
