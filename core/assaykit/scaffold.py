"""``assaykit new-plugin NAME``: a ready-to-install plugin package from a template.

The template ships inside assaykit (``assaykit/_scaffold``), so a lab gets
it with ``pip install assaykit`` and never has to clone the repository.
"""

from __future__ import annotations

import re
from importlib import resources
from pathlib import Path
from string import Template

from packaging.version import Version

from assaykit._version import __version__
from assaykit.errors import UsageError
from assaykit.hookspecs import HOOK_API_VERSION

_NAME = re.compile(r"^[a-z][a-z0-9_]{1,40}$")


def create_plugin(name: str, directory: Path) -> Path:
    """Create ``directory/assaykit-<name>/`` and return its path."""
    if not _NAME.match(name):
        raise UsageError(
            f"plugin name {name!r}: expected lower-case letters, digits and '_', "
            "starting with a letter (it becomes the assay name and a Python package)"
        )
    dashed = name.replace("_", "-")
    target = Path(directory) / f"assaykit-{dashed}"
    if target.exists():
        raise UsageError(f"{target} already exists")
    v = Version(__version__)
    subs = {
        "name": name,
        "dashed": dashed,
        "classname": "".join(p.capitalize() for p in name.split("_")),
        "host_major_minor": f"{v.major}.{v.minor}",
        "host_next": f"{v.major + 1}" if v.major >= 1 else f"0.{v.minor + 1}",
        "api_version": str(HOOK_API_VERSION),
    }
    root = resources.files("assaykit") / "_scaffold"
    files = {
        "pyproject.toml.tmpl": "pyproject.toml",
        "README.md.tmpl": "README.md",
        "src/pkg/__init__.py.tmpl": f"src/assaykit_{name}/__init__.py",
        "src/pkg/plugin.py.tmpl": f"src/assaykit_{name}/plugin.py",
        "tests/test_pkg.py.tmpl": f"tests/test_{name}.py",
    }
    for src, dst in files.items():
        text = (root / src).read_text(encoding="utf-8")
        out = target / dst
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(Template(text).substitute(subs), encoding="utf-8")
    return target
