"""One loader of the seeded fixture generators for the bench scripts (run as scripts, so
``bench/`` is on ``sys.path``)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from typing import Any

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


def load_generator(name: str = "make_annexin_pi") -> Any:
    """The module ``fixtures/<name>.py``, imported once under its own name."""
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, FIXTURES / f"{name}.py")
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod
    spec.loader.exec_module(mod)
    return mod
