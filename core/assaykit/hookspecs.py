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

    - ``sniff(path, head)`` (optional): ``head`` is the file's first
      :data:`assaykit.readers.SNIFF_BYTES` bytes (8 KiB; the host never
      reads more for this). Return ``None`` for "not my format", or a score,
      higher for a more specific test (``1.0`` for "I recognize this
      header"). The default returns ``0.0``: the suffix matched and the
      content was not looked at. It must be cheap and must not raise.

    Several readers may claim one suffix, and suffixes may have several parts
    (``".plate.csv"``; they match whole parts of the file name's
    ``Path.suffixes``, so ``x.plate.csv`` but not ``xplate.csv``). For each
    file the scan stage ranks the readers that claim it, among those whose
    kind the row's assay reads, and the first wins:

    1. the longest matching suffix (``.plate.csv`` before ``.csv``);
    2. the highest ``sniff`` score (readers returning ``None`` drop out);
    3. a plugin's reader before a built-in one (the built-in CSV/TSV table
       reader claims ``.csv``/``.tsv`` at ``0.0``).

    Two readers still equal after these (two plugins claiming the same file
    with the same score) are a conflict: that file becomes a
    ``metric="error"`` record (``ReaderConflict``) naming both readers and
    the file, the run's exit code is 1, and every other file is analysed.
    A reader whose ``sniff`` raises or returns something other than a number
    or ``None`` is skipped for that file with a warning. A registration that
    breaks this contract (not a Reader, no kind, a suffix that is not
    lower-case ``.ext`` or ``.part.ext``), or a hook that raises, skips the
    whole plugin with a warning; ``assaykit plugins`` lists it as
    ``failed`` with the reason. ``assaykit plugins`` lists every reader with
    its suffixes, whether it sniffs, and which readers share its suffixes.
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
