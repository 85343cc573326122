"""Test-time access to the seeded Annexin V/PI generator (``fixtures/make_annexin_pi.py``).

The generator lives beside the example folder it writes, outside the
installed package, so tests load it by path. Truth always comes from the
generator's labels.
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

REPO_ROOT = Path(__file__).resolve().parents[2]
GENERATOR = REPO_ROOT / "fixtures" / "make_annexin_pi.py"
EXAMPLE = REPO_ROOT / "fixtures" / "annexin_pi"
#: ``make(name, **generator kwargs) -> (folder, truths)`` (the ``make`` fixture).
Make = Callable[..., tuple[Path, list[Any]]]
QUADRANT_METRICS = ("viable_pct", "early_apoptotic_pct", "late_apoptotic_pct", "necrotic_pct")


def generator() -> ModuleType:
    """The generator module (loaded once per process)."""
    name = "make_annexin_pi"
    mod = sys.modules.get(name)
    if mod is None:
        spec = importlib.util.spec_from_file_location(name, GENERATOR)
        assert spec is not None and spec.loader is not None
        mod = importlib.util.module_from_spec(spec)
        sys.modules[name] = mod
        spec.loader.exec_module(mod)
    return mod


def roles(folder: Path, truths: Sequence[Any]) -> dict[Path, str]:
    """``{path: role}`` for ``assaykit.analyze``."""
    return {folder / t.file: t.role for t in truths}


def chain_fcs(parts: Sequence[Path], out: Path) -> Path:
    """Chain single-data-set FCS files (as ``write_fcs`` writes them) into one file
    through ``$NEXTDATA``, the way Guava Muse and Beckman ``.lmd`` files hold several.

    Offsets are written as fixed-width 10-digit numbers so they can be filled
    in after the TEXT length is known.
    """
    blobs: list[bytes] = []
    segs = []
    for p in parts:
        raw = p.read_bytes()
        version = raw[:6]
        ts, te, ds, de = (int(raw[10 + 8 * i : 18 + 8 * i]) for i in range(4))
        text = raw[ts : te + 1].decode("utf-8")
        d = text[0]
        kv = text[1:-1].split(d)
        pairs = dict(zip(kv[::2], kv[1::2]))
        segs.append((version, pairs, d, raw[ds : de + 1]))
    for i, (version, pairs, d, data) in enumerate(segs):
        fields = dict(pairs)
        for k in ("$BEGINDATA", "$ENDDATA", "$NEXTDATA"):
            fields[k] = "0" * 10

        def render(f: dict[str, str], d: str = d) -> bytes:
            return (d + "".join(f"{k}{d}{v}{d}" for k, v in f.items())).encode("utf-8")

        n_text = len(render(fields))
        begin = 58 + n_text
        end = begin + len(data) - 1
        total = begin + len(data)
        fields["$BEGINDATA"] = f"{begin:010d}"
        fields["$ENDDATA"] = f"{end:010d}"
        fields["$NEXTDATA"] = f"{total if i < len(segs) - 1 else 0:010d}"
        text = render(fields)
        assert len(text) == n_text
        head = version + b"    " + b"".join(
            f"{v:>8}".encode() for v in (58, 58 + n_text - 1, begin, end, 0, 0)
        )
        assert len(head) == 58
        blobs.append(head + text + data)
    out.write_bytes(b"".join(blobs))
    return out


def write_events(
    path: Path,
    events: np.ndarray,
    channels: Sequence[str],
    labels: Sequence[str] | None = None,
    **kw: Any,
) -> Path:
    from assaykit.cytometry.fcs import write_fcs

    write_fcs(path, events, list(channels), labels=labels, **kw)
    return path
