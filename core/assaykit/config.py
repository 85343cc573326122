"""``assaykit.toml``: per-folder assay parameters and a default assay.

Example::

    default_assay = "annexin_pi"

    [params.annexin_pi]
    threshold_percentile = 99.5

Parameters are validated by the assay's pydantic model; an error names the
file, the assay and the field, and says what was expected.
"""

from __future__ import annotations

import difflib
import sys
import typing
import warnings
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from assaykit.assay import Params, ParamsDeprecationWarning
from assaykit.errors import ConfigError, ParamsError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib

CONFIG_NAME = "assaykit.toml"
_TOP_KEYS = {"default_assay", "params"}


@dataclass
class FolderConfig:
    """What ``assaykit.toml`` says. ``path`` is None when the folder has none."""

    path: Path | None = None
    default_assay: str | None = None
    params: dict[str, dict[str, Any]] = field(default_factory=dict)


def load_config(path: Path) -> FolderConfig:
    """Read ``assaykit.toml``; a missing file is an empty config."""
    if not path.is_file():
        return FolderConfig()
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    unknown = sorted(set(data) - _TOP_KEYS)
    if unknown:
        hints = []
        for key in unknown:
            if isinstance(data[key], dict):  # [western_blot] for [params.western_blot]
                hints.append(f"[{key}] is a table: assay parameters go in [params.{key}]")
            elif guess := did_you_mean(key, sorted(_TOP_KEYS)):
                hints.append(f"{key!r}: did you mean {guess!r}?")
        raise ConfigError(
            f"{path}: unknown key(s) {', '.join(unknown)}; expected 'default_assay' "
            "and [params.<assay>] tables" + "".join(f"; {h}" for h in hints)
        )
    default = data.get("default_assay")
    if default is not None and not isinstance(default, str):
        raise ConfigError(f"{path}: default_assay must be a string, got {default!r}")
    params = data.get("params", {})
    if not isinstance(params, dict) or not all(isinstance(v, dict) for v in params.values()):
        raise ConfigError(f"{path}: [params] must hold one table per assay, [params.<assay>]")
    return FolderConfig(path=path, default_assay=default, params=params)


def did_you_mean(word: str, choices: Iterable[str]) -> str | None:
    """The valid name nearest a misspelled one (difflib), or None when none is close."""
    names = list(choices)
    by_fold = {c.casefold(): c for c in names}
    w = word.casefold()
    if w in by_fold:
        return by_fold[w]
    prefixed = [c for c in by_fold if c.startswith(w)] if len(w) >= 4 else []
    if len(prefixed) == 1:  # a name typed short: 'rolling' -> 'rolling_ball_radius'
        return by_fold[prefixed[0]]
    close = difflib.get_close_matches(w, list(by_fold), n=3, cutoff=0.6)
    if close:
        best = [c for c in close if c.startswith(w)] or close
        return by_fold[best[0]]
    # a shared word ('loading_control' -> 'loading_target') is a hint difflib misses
    # when the other words differ
    parts = {p for p in word.casefold().split("_") if len(p) > 2}
    shared = [c for c in names if parts & {p for p in c.casefold().split("_") if len(p) > 2}]
    return shared[0] if len(shared) == 1 else None


def _model_in(ann: Any) -> tuple[type[BaseModel] | None, int]:
    """The pydantic model inside an annotation, and how many container keys lead to it
    (``Model`` 0; ``dict[str, Model]`` or ``list[Model]`` 1; ``Model | None`` 0)."""
    if isinstance(ann, type) and issubclass(ann, BaseModel):
        return ann, 0
    origin, args = typing.get_origin(ann), typing.get_args(ann)
    if origin in (dict, list, tuple, Mapping) or (
        isinstance(origin, type) and issubclass(origin, dict | list)
    ):
        inner, depth = _model_in(args[-1]) if args else (None, 0)
        return inner, depth + 1
    for a in args:  # Optional[Model], Model | None
        inner, depth = _model_in(a)
        if inner is not None:
            return inner, depth
    return None, 0


def _model_at(model: type[BaseModel] | None, loc: tuple[int | str, ...]) -> type[BaseModel] | None:
    """The nested pydantic model that field path ``loc`` points into, if any (through
    ``dict[str, Model]`` too: ``geometry."gel.tif".strips``)."""
    parts = list(loc)
    while parts:
        part = parts.pop(0)
        if model is None or not isinstance(part, str) or part not in model.model_fields:
            return None
        model, skip = _model_in(model.model_fields[part].annotation)
        if skip > len(parts):
            return None
        del parts[:skip]
    return model


def format_validation_error(
    exc: ValidationError, model: type[BaseModel] | None = None, assay: str | None = None
) -> list[str]:
    """One line per problem, naming the field. With ``model``, an unknown field names the
    nearest valid one (``unknown parameter 'loading_control' for western_blot; did you
    mean 'loading_target'?``), or lists them all when none is close."""
    out = []
    for err in exc.errors():
        loc_t = tuple(err.get("loc", ()))
        loc = ".".join(str(p) for p in loc_t) or "(model)"
        if err.get("type") == "extra_forbidden" and model is not None and loc_t:
            parent = _model_at(model, loc_t[:-1])
            if parent is not None:
                valid = sorted(parent.model_fields)
                owner = assay or model.__name__
                if len(loc_t) > 1:
                    owner += "." + ".".join(str(p) for p in loc_t[:-1])
                key = str(loc_t[-1])
                guess = did_you_mean(key, valid)
                hint = f"did you mean {guess!r}?" if guess else f"valid: {', '.join(valid)}"
                out.append(f"unknown parameter {key!r} for {owner}; {hint}")
                continue
        msg = err.get("msg", "invalid")
        inp = err.get("input")
        shown = "" if isinstance(inp, dict) else f" (got {inp!r})"
        out.append(f"field {loc!r}: {msg}{shown}")
    return out


def build_params(
    params_cls: type[Params], values: Mapping[str, Any] | Params | None, *, where: str, assay: str
) -> Params:
    """Validate parameters with the assay's model; the error names ``where`` and each field."""
    if isinstance(values, params_cls):
        return values
    if isinstance(values, Params):
        values = values.model_dump()
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", ParamsDeprecationWarning)
            built = params_cls.model_validate(dict(values or {}))
    except ValidationError as exc:
        problems = format_validation_error(exc, params_cls, assay)
        raise ParamsError(
            f"{where}: bad parameters for assay {assay!r}: " + "; ".join(problems)
        ) from None
    for w in caught:
        if issubclass(w.category, ParamsDeprecationWarning):
            warnings.warn(f"{where}: assay {assay!r}: {w.message}", w.category, stacklevel=2)
        else:  # not ours: pass it on unchanged
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    return built


def params_json(params: Params) -> dict[str, Any]:
    """The canonical JSON-able form of effective params, hashed into params_sha256."""
    data = params.model_dump(mode="json")
    data["__revision__"] = type(params).revision
    return data
