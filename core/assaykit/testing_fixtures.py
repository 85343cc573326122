"""pytest fixtures for testing assaykit plugins: a host, experiments from a folder, figures.

assaykit registers this module with pytest (entry point ``pytest11``), so a
plugin's tests can ask for the fixtures by name. Where pytest's plugin
autoload is off, load it explicitly: ``pytest -p assaykit.testing_fixtures``
or, in ``conftest.py``, ``pytest_plugins = ["assaykit.testing_fixtures"]``.

- ``assaykit_host``: a :class:`assaykit.PluginHost` as ``assaykit run`` builds
  it (installed plugins, the ``ASSAYKIT_*`` variables), plus the plugin modules
  named with ``--assaykit-module MODULE`` (repeatable) or the ini option
  ``assaykit_modules``: a plugin under development that is not installed yet;
- ``assaykit_host_factory``: ``make(modules=(), autoload=None, load=(),
  block=(), extra=())`` builds another host;
- ``assaykit_experiment``: ``make(folder, sheet=None, *, assay=None,
  name=None, figures=False, host=None)`` builds an experiment from a folder
  and a sample sheet (a path, or rows as mappings) exactly as the batch
  runner does (see :func:`assaykit.testing.experiment_from_folder`).

Figures are compared with :func:`assaykit.testing.assert_figures_match`.
Nothing here is imported until a fixture is used, so the plugin costs a test
session nothing when no test asks for it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from assaykit.experiment import Experiment
    from assaykit.plugins import PluginHost

_OPTION = "assaykit_modules"


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("assaykit", "assaykit plugin testing")
    group.addoption(
        "--assaykit-module",
        action="append",
        default=[],
        dest=_OPTION,
        metavar="MODULE",
        help="Register this importable module as an assaykit plugin in the assaykit_host "
        "fixture (a plugin that is not installed). Repeatable.",
    )
    parser.addini(
        _OPTION, "Modules the assaykit_host fixture registers as plugins.", type="args"
    )


def configured_modules(config: pytest.Config) -> tuple[str, ...]:
    """The modules named by ``--assaykit-module`` and the ``assaykit_modules`` ini option."""
    found: list[str] = []
    with contextlib.suppress(ValueError):  # registered too late (pytest_plugins in a module)
        found += list(config.getini(_OPTION) or [])
    found += list(config.getoption(_OPTION, default=None) or [])
    return tuple(dict.fromkeys(found))


@pytest.fixture
def assaykit_host_factory() -> Callable[..., PluginHost]:
    """``make(modules=(), autoload=None, load=(), block=(), extra=())`` -> a new PluginHost."""
    from assaykit.plugins import HostConfig, PluginHost

    def make(
        *,
        modules: Iterable[str] = (),
        autoload: bool | None = None,
        load: Iterable[str] = (),
        block: Iterable[str] = (),
        extra: Iterable[Any] = (),
    ) -> PluginHost:
        cfg = HostConfig.from_env(autoload=autoload, load=load, block=block, modules=modules)
        return PluginHost(cfg, extra=extra)

    return make


@pytest.fixture
def assaykit_host(
    request: pytest.FixtureRequest, assaykit_host_factory: Callable[..., PluginHost]
) -> PluginHost:
    """The host a run would use, plus the ``--assaykit-module`` / ``assaykit_modules`` modules."""
    return assaykit_host_factory(modules=configured_modules(request.config))


@pytest.fixture
def assaykit_experiment(request: pytest.FixtureRequest) -> Callable[..., Experiment]:
    """``make(folder, sheet=None, *, assay=None, name=None, figures=False, host=None)``."""
    from assaykit.testing import experiment_from_folder

    def make(
        folder: Any,
        sheet: Any = None,
        *,
        assay: str | None = None,
        name: str | None = None,
        figures: bool = False,
        host: PluginHost | None = None,
    ) -> Experiment:
        h = host if host is not None else request.getfixturevalue("assaykit_host")
        return experiment_from_folder(
            folder, sheet, assay=assay, name=name, host=h, figures=figures
        )

    return make
