"""The plugin contract of assaykit. Every hook is here, and its docstring is its documentation.

A plugin is a module (or object) that implements one or more of these hooks,
marked with :data:`assaykit.hookimpl`, and is registered under the
``assaykit`` entry-point group::

    [project.entry-points.assaykit]
    my_assay = "assaykit_my_assay.plugin"

Each hook takes a ``register`` callback instead of returning a list (the
style of ``llm``): a plugin calls ``register(thing)`` once per thing it
provides. The host records which plugin registered what, so that listings and
error messages can name the plugin and its distribution.

The host calls ``check_pending()`` after loading plugins, so a hook
implementation whose name is misspelled is a loud :class:`PluginError`, not a
silently ignored function.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    from assaykit.assay import Assay
    from assaykit.readers import Reader
    from assaykit.records import Exporter

PROJECT_NAME = "assaykit"

#: The hook contract's version. A plugin written for another major version of
#: the contract is skipped with a warning when it is discovered.
HOOK_API_VERSION = 1

hookspec = pluggy.HookspecMarker(PROJECT_NAME)
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)


@hookspec
def assaykit_register_assays(register: Callable[[Assay], None]) -> None:
    """Register the assays this plugin provides, by calling ``register(assay)`` once per assay.

    ``assay`` is an instance of a subclass of :class:`assaykit.Assay`. It must
    declare, before it ever runs:

    - ``name`` (unique across all plugins, e.g. ``"annexin_pi"``), ``version``
      and a one-line ``summary``;
    - ``input_kinds``: the kinds of file it takes (``"fcs"``, ``"image"``,
      ``"table"``), matched to files by the registered readers;
    - ``roles``: the sample-sheet roles it understands (the first is the
      default role; ``"sample"`` by convention);
    - ``Params``: a pydantic model (subclass of :class:`assaykit.Params`)
      with defaults, units and bounds; its JSON Schema is the plugin's
      documented configuration;
    - ``metrics``: the :class:`assaykit.Metric` rows
      ``(entity_type, metric, unit, dtype)`` it may emit. It must never emit
      a metric it did not declare (the conformance kit checks this).

    Its one entry point is ``analyze(experiment, params) -> AssayResult``.
    ``analyze`` must be a pure function of the experiment's files and the
    params: it reads files only through ``experiment``, writes no files,
    prints nothing, and returns the same records for the same inputs. It
    raises a subclass of :class:`assaykit.AssaykitError` for bad input; the
    batch runner turns any exception into ``metric="error"`` records for that
    experiment (on the file the error names, when it names one; the other
    files are marked not analysed because of it) and carries on with the
    rest.

    One failure rule: a sample that cannot be analysed while the others can
    is reported with :meth:`assaykit.AssayResult.fail_sample` (never as empty
    values or a plugin's own failure metric). The host turns it into a
    ``metric="error"`` record naming the file and the reason, and the run's
    exit code is 1.

    Registering two assays with the same name is a :class:`PluginError`.
    """


@hookspec
def assaykit_register_readers(register: Callable[[Reader], None]) -> None:
    """Register file readers, by calling ``register(reader)`` once per reader.

    ``reader`` is an instance of a subclass of :class:`assaykit.Reader` with:

    - ``kind``: the input kind it produces (``"fcs"``, ``"image"``,
      ``"table"``, or a new kind of the plugin's own);
    - ``suffixes``: lower-case file suffixes it claims (``(".fcs", ".lmd")``);
    - ``read(path)``: load the file and return the in-memory object that an
      assay of that kind expects, raising :class:`assaykit.InputError` (or a
      subclass) that names the file and the reason on bad input;
    - ``metadata(path)``: cheap metadata for the records (``instrument``,
      ``acquired_at``), never loading the whole file; return ``{}`` if the
      format carries none.

    The scan stage uses the suffixes to decide which files of a folder are
    inputs and of which kind. A suffix claimed by two readers is a
    :class:`PluginError`.
    """


@hookspec
def assaykit_register_exporters(register: Callable[[Exporter], None]) -> None:
    """Register result exporters, by calling ``register(exporter)`` once per exporter.

    ``exporter`` is an instance of a subclass of :class:`assaykit.Exporter`
    with a unique ``name`` and ``export(table, out_dir) -> list[Path]``.
    ``table`` is an :class:`assaykit.ResultTable`: the run's records in long
    format with the sample-sheet condition columns joined on, in a stable
    order. The exporter writes its files inside ``out_dir`` only, atomically
    (write to a temporary name, then rename), and returns the paths it wrote.
    ``available()`` may return ``False`` when an optional dependency is
    missing; such an exporter is skipped and listed as unavailable.

    The host's own CSV, JSON Lines and Parquet exporters use this same hook.
    """
