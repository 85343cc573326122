"""The import rules: the contract stands alone, and data flows one way through the stages.

- The contract (what a plugin and the science libraries build on) imports no
  host module, and neither do ``assaykit.cytometry``, ``assaykit.imaging`` and
  ``assaykit.plates``,
  which may import only the contract modules a science layer needs.
- No host module imports a module of a later stage in
  scan → plan → execute → store → profile → export → report; the front ends (the batch
  runner, the API, the CLI, the conformance kit) sit above every stage.
- ``import assaykit`` loads nothing but the package: its names load lazily.

The static checks read every import, including those inside functions and
under ``if TYPE_CHECKING:``, because a backward import is a design problem
even when it runs late. The runtime checks import in a fresh interpreter and
look at ``sys.modules``.
"""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

import assaykit
import pytest

PKG = Path(assaykit.__file__).resolve().parent  # the copy under test (PYTHONPATH may pick it)

#: what the science layers may import from assaykit
LAYER_CONTRACT = {"_version", "errors", "assay", "vocabulary", "experiment", "readers", "raster"}
#: the contract: what plugins implement and use; imports only the contract
CONTRACT = LAYER_CONTRACT | {"records", "hookspecs"}
#: helpers with no stage: they import nothing from assaykit
UTILITY = {"_files"}
#: the host's own plugin (built-in readers and exporters), loaded by the host like any plugin
BUILTIN_PLUGIN = {"_builtin"}
#: host modules by stage, in the order data flows; "host" is the plugin host and the
#: folder config that every stage uses. Planning has no module of its own: it is
#: ``batch._plan``, in the front end.
STAGES: list[tuple[str, set[str]]] = [
    ("host", {"plugins", "config"}),
    ("scan", {"sheet", "platemap"}),
    ("plan", set()),
    ("execute", {"execute", "_pool", "progress"}),
    ("store", {"store"}),
    ("profile", {"profile"}),  # per-cell-line profile from the stored records
    ("export", {"exporters"}),
    ("report", {"report"}),
]
#: the front ends and tools: they drive the stages (or document the contract), and no
#: stage or contract module imports them
FRONT = {
    "__init__",
    "batch",
    "api",
    "cli",
    "testing",
    "testing_fixtures",
    "scaffold",
    "_docgen",
}
LAYERS = ("cytometry", "imaging", "plates", "qpcr")

STAGE_OF = {m: n for n, (_, mods) in enumerate(STAGES) for m in mods}
HOST = {m for _, mods in STAGES for m in mods} | FRONT | BUILTIN_PLUGIN


def _lazy_exports() -> dict[str, str]:
    """``assaykit``'s public names -> their defining module, read from ``__init__.py``."""
    tree = ast.parse((PKG / "__init__.py").read_text(encoding="utf-8"))
    for node in tree.body:
        targets: list[ast.expr]
        if isinstance(node, ast.AnnAssign):
            targets, value = [node.target], node.value
        elif isinstance(node, ast.Assign):
            targets, value = node.targets, node.value
        else:
            continue
        named = any(isinstance(t, ast.Name) and t.id == "_EXPORTS" for t in targets)
        if named and value is not None:
            found: dict[str, str] = ast.literal_eval(value)
            return {k: v.removeprefix("assaykit.") for k, v in found.items()}
    return {}


EXPORTS = _lazy_exports()


def _modules() -> dict[str, Path]:
    """Every module of the package by dotted name below ``assaykit`` (``imaging.bands``)."""
    out = {}
    for path in sorted(PKG.rglob("*.py")):
        rel = path.relative_to(PKG)
        if rel.parts[0] == "_scaffold":  # templates of new plugins, not part of assaykit
            continue
        name = ".".join(rel.with_suffix("").parts)
        out[name.removesuffix(".__init__") if name != "__init__" else name] = path
    return out


MODULES = _modules()


def _imports(name: str, path: Path) -> list[tuple[int, str]]:
    """(line, module below ``assaykit``) for every import of an assaykit module in a file."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("assaykit."):
                    found.append((node.lineno, alias.name.removeprefix("assaykit.")))
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1] if node.level > 1 else package
                mod = ".".join([*base, *([node.module] if node.module else [])])
            elif node.module and (node.module + ".").startswith("assaykit."):
                mod = node.module.removeprefix("assaykit").removeprefix(".")
            else:
                continue
            for alias in node.names:
                sub = f"{mod}.{alias.name}" if mod else alias.name
                if sub in MODULES:  # `from assaykit import hookspecs`: a module
                    found.append((node.lineno, sub))
                elif not mod:  # `from assaykit import Assay`: where the name is defined
                    found.append((node.lineno, EXPORTS.get(alias.name, "__init__")))
                else:
                    found.append((node.lineno, mod))
    return sorted(set(found))


def _top(mod: str) -> str:
    return mod.split(".")[0]


def _problem(importer: str, imported: str) -> str | None:
    """Why ``importer`` may not import ``imported`` (both below ``assaykit``), or None."""
    if imported == importer:
        return None
    top, imp_top = _top(importer), _top(imported)
    if top in LAYERS:
        if imp_top == top or imported in LAYER_CONTRACT:
            return None
        return (
            f"assaykit.{top} is a science layer and may import only "
            f"{', '.join(sorted(LAYER_CONTRACT))} (and its own modules)"
        )
    if importer in CONTRACT:
        if imported in CONTRACT or imported in UTILITY:
            return None
        return "a contract module may import only contract modules"
    if importer in UTILITY:
        return "a utility imports nothing from assaykit"
    if importer in FRONT:
        return None
    if imported in CONTRACT or imported in UTILITY or imp_top in LAYERS:
        return None
    if importer in BUILTIN_PLUGIN:
        if imported in FRONT:
            return "no plugin imports a front end (batch, api, cli, ...)"
        return None
    if importer == "plugins" and imported in BUILTIN_PLUGIN:
        return None  # the host registers its built-in plugin
    if importer not in STAGE_OF:
        return f"assaykit.{importer} is not classified in tests/core/test_layers.py"
    if imported in FRONT:
        return f"a stage module may not import the front end assaykit.{imported}"
    if imported not in STAGE_OF:
        return f"assaykit.{imported} is not classified in tests/core/test_layers.py"
    mine, theirs = STAGE_OF[importer], STAGE_OF[imported]
    if theirs > mine:
        return (
            f"stage {STAGES[theirs][0]!r} comes after {STAGES[mine][0]!r} "
            f"in {' -> '.join(n for n, _ in STAGES)}"
        )
    return None


def test_every_module_is_classified() -> None:
    known = CONTRACT | UTILITY | HOST
    unknown = [m for m in MODULES if _top(m) not in LAYERS and m not in known]
    assert not unknown, f"classify these modules in tests/core/test_layers.py: {unknown}"


def test_no_module_imports_against_the_layering() -> None:
    bad = []
    for name, path in MODULES.items():
        for line, imported in _imports(name, path):
            why = _problem(name, imported)
            if why:
                rel = path.relative_to(PKG.parent)
                bad.append(f"{rel}:{line} imports assaykit.{imported}: {why}")
    assert not bad, "imports against the layering:\n" + "\n".join(bad)


def test_the_rules_see_a_backward_import() -> None:
    """The checker itself: the backward imports it exists to catch are reported."""
    assert _problem("store", "exporters") is not None
    assert _problem("report", "batch") is not None
    assert _problem("cytometry.prepare", "records") is not None
    assert _problem("imaging.bands", "plugins") is not None
    assert _problem("assay", "plugins") is not None
    assert _problem("report", "store") is None
    assert _problem("batch", "report") is None
    assert _problem("cytometry.prepare", "assay") is None
    assert _problem("plates.read", "sheet") is not None
    assert _problem("plates.read", "readers") is None


# --------------------------------------------------------------------------------------
# what an import really loads, in a fresh interpreter
# --------------------------------------------------------------------------------------
_PROBE = r"""
import json, sys, traceback
who = {}

class Spy:
    def find_spec(self, name, path=None, target=None):
        if name.startswith("assaykit.") and name not in who:
            frames = [f for f in traceback.extract_stack()[:-1]
                      if "importlib" not in f.filename and f.filename != "<string>"]
            who[name] = f"{frames[-1].filename}:{frames[-1].lineno}" if frames else "?"
        return None

sys.meta_path.insert(0, Spy())
exec(sys.argv[1])
print(json.dumps({m: who.get(m, "?") for m in sys.modules if m.startswith("assaykit")}))
"""


def _loaded(statement: str) -> dict[str, str]:
    """The assaykit modules ``statement`` loads, each with the file:line that imported it."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(PKG.parent), *sys.path]))
    proc = subprocess.run(
        [sys.executable, "-c", _PROBE, statement],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert proc.returncode == 0, proc.stderr
    loaded: dict[str, str] = json.loads(proc.stdout.splitlines()[-1])
    return {m.removeprefix("assaykit."): w for m, w in loaded.items() if m != "assaykit"}


@pytest.mark.parametrize(
    ("statement", "allowed"),
    [
        ("import assaykit", {"_version"}),
        ("import assaykit.cytometry", LAYER_CONTRACT),
        ("import assaykit.cytometry.fcs", LAYER_CONTRACT),
        ("import assaykit.cytometry.prepare", LAYER_CONTRACT),
        ("import assaykit.imaging", LAYER_CONTRACT),
        ("import assaykit.imaging.pipeline", LAYER_CONTRACT),
        ("import assaykit.plates.doseresponse", LAYER_CONTRACT),
        ("import assaykit.plates.synthetic", LAYER_CONTRACT),
        ("import assaykit.plates", LAYER_CONTRACT),
        # what a plugin's declaration module imports
        (
            "from assaykit import Assay, AssayResult, Experiment, Input, Metric, Params, "
            "QCFlag, Record, hookimpl, new_figure",
            CONTRACT,
        ),
    ],
)
def test_an_import_loads_no_host_module(statement: str, allowed: set[str]) -> None:
    loaded = _loaded(statement)
    extra = {
        m: w for m, w in loaded.items() if _top(m) not in LAYERS and m not in allowed | UTILITY
    }
    assert not extra, f"{statement!r} loads modules it must not: " + ", ".join(
        f"assaykit.{m} (imported at {w})" for m, w in sorted(extra.items())
    )


def test_the_package_still_gives_every_public_name() -> None:
    for name in assaykit.__all__:
        assert getattr(assaykit, name) is not None, name
    assert set(assaykit.__all__) <= set(dir(assaykit))
    with pytest.raises(AttributeError, match="no_such_name"):
        assaykit.no_such_name  # noqa: B018


# --------------------------------------------------------------------------------------
# listing plugins
# --------------------------------------------------------------------------------------
HEAVY = ("scipy", "skimage", "cv2", "matplotlib", "pandas")

_LIST = r"""
import json, sys
from assaykit.cli import cli
try:
    cli.main(args=sys.argv[1:], prog_name="assaykit", standalone_mode=False)
except SystemExit as exc:
    code = exc.code
else:
    code = 0
print(json.dumps({"code": code, "modules": sorted(sys.modules)}), file=sys.stderr)
"""


def _list_plugins(
    *args: str, env: dict[str, str] | None = None
) -> tuple[int, list[str], str, str]:
    """Run the CLI in a fresh interpreter: exit code, the modules it loaded, stdout, stderr."""
    full = dict(os.environ, **(env or {}))
    full["PYTHONPATH"] = os.pathsep.join([str(PKG.parent), *sys.path])
    proc = subprocess.run(
        [sys.executable, "-c", _LIST, *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=full,
    )
    *err, last_line = proc.stderr.strip().splitlines() or [""]
    try:
        last = json.loads(last_line)
    except json.JSONDecodeError:
        pytest.fail(f"the CLI did not finish: {proc.stderr}")
    return last["code"], last["modules"], proc.stdout, "\n".join(err)


def test_brief_listing_imports_no_plugin() -> None:
    code, modules, out, err = _list_plugins("plugins", "--brief", "--json")
    assert code == 0, err
    listed = json.loads(out)
    assert {p["name"] for p in listed} >= {"annexin", "msp", "rh123", "tunel", "western"}
    plugin_modules = {p["module"].split(".")[0] for p in listed}
    imported = sorted(m for m in modules if m.split(".")[0] in plugin_modules)
    assert not imported, f"`assaykit plugins --brief` imported {imported}"
    assert not [m for m in modules if m.split(".")[0] in HEAVY]


def test_the_hosts_own_listing_loads_no_heavy_library() -> None:
    """With the bundled plugins blocked, the host itself (built-in readers, exporters) is light."""
    blocked = {"ASSAYKIT_BLOCK_PLUGINS": "annexin,msp,rh123,tunel,western"}
    code, modules, _, err = _list_plugins("plugins", "--json", env=blocked)
    assert code == 0, err
    heavy = [m for m in modules if m.split(".")[0] in HEAVY]
    assert not heavy, f"`assaykit plugins --json` loaded {heavy}"


def test_listing_the_bundled_plugins_loads_no_heavy_library() -> None:
    code, modules, _, err = _list_plugins("plugins", "--json")
    assert code == 0, err
    heavy = [m for m in modules if m.split(".")[0] in HEAVY]
    assert not heavy, f"`assaykit plugins --json` loaded {heavy}"
