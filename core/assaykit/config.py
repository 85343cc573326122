"""``assaykit.toml``: per-folder assay parameters and a default assay.

Example::

    default_assay = "annexin_pi"

    [params.annexin_pi]
    threshold_percentile = 99.5

Parameters are validated by the assay's pydantic model; an error names the
file, the assay and the field, and says what was expected.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from assaykit.assay import Params
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
        raise ConfigError(
            f"{path}: unknown key(s) {', '.join(unknown)}; expected 'default_assay' "
            "and [params.<assay>] tables"
        )
    default = data.get("default_assay")
    if default is not None and not isinstance(default, str):
        raise ConfigError(f"{path}: default_assay must be a string, got {default!r}")
    params = data.get("params", {})
    if not isinstance(params, dict) or not all(isinstance(v, dict) for v in params.values()):
        raise ConfigError(f"{path}: [params] must hold one table per assay, [params.<assay>]")
    return FolderConfig(path=path, default_assay=default, params=params)


def format_validation_error(exc: ValidationError) -> list[str]:
    out = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err.get("loc", ())) or "(model)"
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
        return params_cls.model_validate(dict(values or {}))
    except ValidationError as exc:
        problems = format_validation_error(exc)
        raise ParamsError(
            f"{where}: bad parameters for assay {assay!r}: " + "; ".join(problems)
        ) from None


def params_json(params: Params) -> dict[str, Any]:
    """The canonical JSON-able form of effective params, hashed into params_sha256."""
    data = params.model_dump(mode="json")
    data["__revision__"] = type(params).revision
    return data
