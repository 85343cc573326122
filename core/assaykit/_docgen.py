"""The generated sections of CONTRIBUTING.md, written from the declarations themselves.

Usage::

    python -m assaykit._docgen --write CONTRIBUTING.md    # rewrite the marked sections
    python -m assaykit._docgen --check CONTRIBUTING.md    # exit 1 when they are stale

A marked section is everything between ``<!-- BEGIN generated: NAME -->`` and
``<!-- END generated: NAME -->`` (after cog); the text around them is
hand-written and left alone. Sections:

- ``vocabulary``: the shared metric names (:data:`assaykit.vocabulary.SHARED_METRICS`)
  and the host's QC flags (:data:`assaykit.vocabulary.HOST_FLAGS`);
- ``assays``: for every assay shipped with assaykit, its parameters (from the
  Params JSON Schema: name, type and bounds, default, description, old names
  still accepted), its metrics and its QC flags.

Why generated: parameter names and descriptions live in the code, and a table
copied by hand drifts the day someone renames one. A test fails when the
committed file differs from what this module writes, and names the command.

The assays are collected by calling each built-in plugin's
``assaykit_register_assays`` hook directly, without the host's declaration
checks, so an assay whose declarations are being fixed is still documented as
it stands. Only the plugins of the ``assaykit`` distribution are documented
(a third-party plugin installed beside it is not); a plugin that fails to
import is an error, never a silently missing section.
"""

from __future__ import annotations

import argparse
import difflib
import importlib.metadata as md
import json
import re
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from assaykit.assay import Assay
from assaykit.vocabulary import HOST_FLAGS, SHARED_METRICS

COMMAND = "python -m assaykit._docgen --write CONTRIBUTING.md"
_MARK = re.compile(
    r"(?P<begin><!-- BEGIN generated: (?P<name>[a-z_]+) -->\n)(?P<body>.*?)"
    r"(?P<end><!-- END generated: (?P=name) -->)",
    re.S,
)


# -- what is documented ---------------------------------------------------------------------


def builtin_assays() -> list[Assay]:
    """Every assay the plugins of the ``assaykit`` distribution register, sorted by name."""
    found: list[Assay] = []
    seen: set[str] = set()
    for ep in sorted(md.entry_points(group="assaykit"), key=lambda e: e.name):
        dist = ep.dist.metadata["Name"] if ep.dist is not None else None
        if (dist or "").lower() != "assaykit" or ep.name in seen:
            continue
        seen.add(ep.name)
        try:
            module = ep.load()
        except Exception as exc:
            raise RuntimeError(
                f"built-in plugin {ep.name!r} ({ep.value}) failed to import: "
                f"{type(exc).__name__}: {exc}"
            ) from exc
        hook: Callable[..., Any] | None = getattr(module, "assaykit_register_assays", None)
        if hook is not None:
            hook(register=found.append)
    return sorted(found, key=lambda a: a.name)


# -- markdown helpers -----------------------------------------------------------------------


def cell(text: object) -> str:
    """Text made safe for one markdown table cell."""
    s = " ".join(str(text).split())
    return s.replace("|", "\\|")


def code(text: object) -> str:
    s = str(text)
    fence = "``" if "`" in s else "`"
    pad = " " if fence == "``" else ""
    return f"{fence}{pad}{s}{pad}{fence}"


def _table(header: Iterable[str], rows: Iterable[Iterable[object]]) -> list[str]:
    head = list(header)
    out = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    out += ["| " + " | ".join(cell(c) for c in row) + " |" for row in rows]
    return out


def _num(v: Any) -> str:
    if isinstance(v, float) and v.is_integer() and abs(v) < 1e15:
        v = int(v)
    return f"{v:g}" if isinstance(v, float) else str(v)


# -- JSON Schema -> words -------------------------------------------------------------------

_NAMES = {
    "string": "text",
    "number": "number",
    "integer": "integer",
    "boolean": "true/false",
    "null": "unset",
    "object": "table",
    "array": "list",
}


def _bounds(s: dict[str, Any]) -> str:
    parts = []
    for key, sym in (("minimum", "≥"), ("exclusiveMinimum", ">")):
        if key in s:
            parts.append(f"{sym} {_num(s[key])}")
    for key, sym in (("maximum", "≤"), ("exclusiveMaximum", "<")):
        if key in s:
            parts.append(f"{sym} {_num(s[key])}")
    if "minItems" in s or "maxItems" in s:
        lo, hi = s.get("minItems", 0), s.get("maxItems")
        parts.append(f"{lo}–{hi} items" if hi is not None else f"at least {lo} items")
    return ", ".join(parts)


def schema_type(s: dict[str, Any], defs: dict[str, Any]) -> str:
    """A short human reading of one JSON Schema: its type, allowed values and bounds."""
    if "$ref" in s:
        name = str(s["$ref"]).rsplit("/", 1)[-1]
        target = defs.get(name)
        if isinstance(target, dict) and target.get("type") != "object" and "$ref" not in target:
            return schema_type(target, defs)  # an enum or a constrained scalar: say what it is
        return name if target is not None else str(s["$ref"])
    if "enum" in s:
        return "one of " + ", ".join(code(json.dumps(v)) for v in s["enum"])
    if "const" in s:
        return code(json.dumps(s["const"]))
    for key in ("anyOf", "oneOf"):
        if key in s:
            alts = [schema_type(a, defs) for a in s[key]]
            nulls = [a for a in alts if a == "unset"]
            text = " or ".join(dict.fromkeys(a for a in alts if a != "unset"))
            return text + (" or unset" if nulls else "")
    t = s.get("type")
    if isinstance(t, list):
        return " or ".join(_NAMES.get(x, str(x)) for x in t)
    words = _NAMES.get(str(t), str(t) if t else "any")
    if t == "array" and isinstance(s.get("items"), dict):
        words = f"list of {schema_type(s['items'], defs)}"
    if t == "object" and isinstance(s.get("additionalProperties"), dict):
        words = f"table of {schema_type(s['additionalProperties'], defs)}"
    b = _bounds(s)
    return f"{words} ({b})" if b else words


def _default(v: Any) -> str:
    if v is None:
        return "unset"
    return code(json.dumps(v, ensure_ascii=False))


# -- sections -------------------------------------------------------------------------------


def section_vocabulary(assays: list[Assay]) -> str:
    users: dict[str, list[str]] = {}
    for a in assays:
        for m in a.metrics:
            if m.metric in SHARED_METRICS and a.name not in users.setdefault(m.metric, []):
                users[m.metric].append(a.name)
    lines = ["Shared metric names (`assaykit.vocabulary.SHARED_METRICS`):", ""]
    lines += _table(
        ["metric", "unit", "dtype", "meaning", "declared by"],
        (
            [
                code(s.metric),
                s.unit if s.unit is not None else "none",
                s.dtype,
                s.meaning,
                ", ".join(code(n) for n in users.get(s.metric, [])) or "none yet",
            ]
            for s in sorted(SHARED_METRICS.values(), key=lambda s: s.metric)
        ),
    )
    lines += ["", "QC flags the host raises on any assay's records "
              "(`assaykit.vocabulary.HOST_FLAGS`):", ""]
    lines += _table(
        ["flag", "severity", "meaning"],
        ([code(f.name), f.severity, f.meaning] for f in sorted(HOST_FLAGS, key=lambda f: f.name)),
    )
    return "\n".join(lines) + "\n"


def _assay_section(a: Assay) -> list[str]:
    try:
        schema = a.Params.model_json_schema()
        defaults = a.Params().model_dump(mode="json", by_alias=True)
    except Exception as exc:
        raise RuntimeError(
            f"assay {a.name!r}: cannot document its Params: {type(exc).__name__}: {exc}"
        ) from exc
    defs = schema.get("$defs", {})
    lines = [f"#### `{a.name}`", "", cell(a.summary), ""]
    facts = [
        f"Reads: {', '.join(code(k) for k in a.input_kinds)}.",
        f"Roles: {', '.join(code(r) for r in a.roles)}"
        + (f" (controls: {', '.join(code(r) for r in a.control_roles)})" if a.control_roles else "")
        + ".",
    ]
    if a.required_columns:
        facts.append(f"Required sheet columns: {', '.join(code(c) for c in a.required_columns)}.")
    lines += [" ".join(facts), ""]
    props: dict[str, Any] = schema.get("properties", {})
    lines += [f"Parameters (`[params.{a.name}]` in `assaykit.toml`):", ""]
    lines += _table(
        ["parameter", "type", "default", "description"],
        (
            [
                code(name),
                schema_type(p, defs),
                _default(defaults.get(name, p.get("default"))),
                p.get("description", ""),
            ]
            for name, p in props.items()
        ),
    )
    renamed = a.Params.all_renamed()
    if renamed:
        old = ", ".join(f"{code(o)} → {code(n)}" for o, n in sorted(renamed.items()))
        lines += ["", f"Old names still accepted, with a warning: {old}."]
    lines += ["", "Metrics:", ""]
    lines += _table(
        ["entity_type", "metric", "unit", "dtype", "description"],
        (
            [m.entity_type, code(m.metric), m.unit if m.unit is not None else "none", m.dtype,
             m.description]
            for m in a.metrics
        ),
    )
    lines += ["", "QC flags (besides the host's):", ""]
    if a.flags:
        lines += _table(
            ["flag", "severity", "meaning"],
            ([code(f.name), f.severity, f.meaning] for f in a.flags),
        )
    else:
        lines += ["None declared."]
    return lines


def section_assays(assays: list[Assay]) -> str:
    lines: list[str] = []
    for a in assays:
        if lines:
            lines.append("")
        lines += _assay_section(a)
    return "\n".join(lines) + "\n"


SECTIONS: dict[str, Callable[[list[Assay]], str]] = {
    "vocabulary": section_vocabulary,
    "assays": section_assays,
}


def render(text: str, assays: list[Assay] | None = None) -> str:
    """``text`` with every marked section regenerated. Raises ValueError on a missing,
    unknown or unbalanced marker."""
    found = [m.group("name") for m in _MARK.finditer(text)]
    problems = [f"unknown generated section {n!r}" for n in found if n not in SECTIONS]
    problems += [
        f"missing section: add '<!-- BEGIN generated: {n} -->' and '<!-- END generated: {n} -->'"
        for n in SECTIONS
        if n not in found
    ]
    problems += [f"section {n!r} appears twice" for n in set(found) if found.count(n) > 1]
    begins = len(re.findall(r"<!-- BEGIN generated: ", text))
    ends = len(re.findall(r"<!-- END generated: ", text))
    if begins != len(found) or ends != len(found):
        problems.append("a BEGIN generated marker has no matching END (or the reverse)")
    if problems:
        raise ValueError("; ".join(problems))
    documented = builtin_assays() if assays is None else assays

    def repl(m: re.Match[str]) -> str:
        body = SECTIONS[m.group("name")](documented)
        return m.group("begin") + body + m.group("end")

    return _MARK.sub(repl, text)


def main(argv: list[str] | None = None) -> int:
    first_line = (__doc__ or "").split("\n")[0]
    ap = argparse.ArgumentParser(prog="python -m assaykit._docgen", description=first_line)
    mode = ap.add_mutually_exclusive_group(required=True)
    mode.add_argument("--write", action="store_true", help="rewrite the file's marked sections")
    mode.add_argument("--check", action="store_true", help="exit 1 if they are out of date")
    ap.add_argument("file", type=Path, help="the Markdown file, e.g. CONTRIBUTING.md")
    args = ap.parse_args(argv)
    text = args.file.read_text(encoding="utf-8")
    try:
        new = render(text)
    except ValueError as exc:
        print(f"{args.file}: {exc}", file=sys.stderr)
        return 2
    if args.check:
        if new == text:
            return 0
        sys.stdout.writelines(
            difflib.unified_diff(
                text.splitlines(True), new.splitlines(True), str(args.file), "generated"
            )
        )
        print(f"{args.file} is out of date; run: {COMMAND}", file=sys.stderr)
        return 1
    if new != text:
        args.file.write_text(new, encoding="utf-8")
        print(f"{args.file}: generated sections rewritten")
    else:
        print(f"{args.file}: already up to date")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
