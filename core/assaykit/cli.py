"""The ``assaykit`` command line.

Exit codes: 0 everything passed; 1 an experiment failed (its error records
are in the results); 2 a usage error (bad option, sheet, params or plugin
configuration); 3 an internal error (a bug: please report it).
"""

from __future__ import annotations

import json
import logging
import sys
import traceback
import warnings
from pathlib import Path
from typing import Any

import click

from assaykit._version import __version__
from assaykit.errors import AssaykitError, ConfigError, PluginError

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERNAL = 0, 1, 2, 3

log = logging.getLogger("assaykit")


class _Ctx:
    def __init__(
        self, block: tuple[str, ...], load: tuple[str, ...], no_autoload: bool, debug: bool
    ) -> None:
        self.block, self.load, self.no_autoload, self.debug = block, load, no_autoload, debug

    def host(self) -> Any:
        from assaykit.plugins import HostConfig, PluginHost

        cfg = HostConfig.from_env(
            autoload=False if self.no_autoload else None, load=self.load, block=self.block
        )
        return PluginHost(cfg)


def _err(msg: str) -> None:
    click.echo(f"error: {msg}", err=True)


def _guard(ctx: _Ctx, fn: Any, *args: Any, **kw: Any) -> int:
    """Run a command body, turning our errors into messages and exit codes (no tracebacks)."""
    try:
        return int(fn(*args, **kw) or 0)
    except (ConfigError, PluginError) as exc:
        _err(str(exc))
        return EXIT_USAGE
    except AssaykitError as exc:
        _err(str(exc))
        return EXIT_FAILED
    except KeyboardInterrupt:
        _err("interrupted; finished experiments are stored and will be skipped next time")
        return 130
    except Exception as exc:
        if ctx.debug:
            traceback.print_exc()
        else:
            _err(
                f"internal error: {type(exc).__name__}: {exc} "
                "(a bug in assaykit or a plugin; rerun with --debug for the traceback)"
            )
        return EXIT_INTERNAL


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="assaykit")
@click.option(
    "--block-plugin",
    "block",
    multiple=True,
    metavar="NAME",
    help="Never load this plugin (entry-point or distribution name). Repeatable.",
)
@click.option(
    "-p",
    "--plugin",
    "load",
    multiple=True,
    metavar="NAME",
    help="Load this plugin even when autoload is off. Repeatable.",
)
@click.option(
    "--no-autoload",
    is_flag=True,
    help="Do not load plugins automatically (also ASSAYKIT_DISABLE_PLUGIN_AUTOLOAD=1).",
)
@click.option("-v", "--verbose", count=True, help="More log output (-vv for debug).")
@click.option("--debug", is_flag=True, help="Show tracebacks of internal errors.")
@click.pass_context
def cli(
    ctx: click.Context,
    block: tuple[str, ...],
    load: tuple[str, ...],
    no_autoload: bool,
    verbose: int,
    debug: bool,
) -> None:
    """assaykit: standardized result records from gels, blots and FCS files."""
    level = logging.WARNING - 10 * min(verbose, 2)
    logging.basicConfig(
        level=level, format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr
    )
    logging.captureWarnings(True)
    _show_deprecations_plainly()
    if verbose == 0:  # the progress display already reports each experiment
        logging.getLogger("assaykit.batch").setLevel(logging.ERROR)
    ctx.obj = _Ctx(block, load, no_autoload, debug)


def _show_deprecations_plainly() -> None:
    """Print an old-parameter-name warning as one ``warning:`` line a lab can act on.

    Why: the default rendering names our source line, not the lab's
    ``assaykit.toml``; the message itself names the file, the assay and the new name.
    """
    from assaykit.assay import ParamsDeprecationWarning

    shown = warnings.showwarning

    def show(message, category, filename, lineno, file=None, line=None):  # type: ignore[no-untyped-def]
        if isinstance(category, type) and issubclass(category, ParamsDeprecationWarning):
            click.echo(f"warning: {message}", err=True)
            return
        shown(message, category, filename, lineno, file, line)

    warnings.showwarning = show


@cli.command()
@click.argument("folder", type=click.Path(path_type=Path))
@click.option(
    "--out",
    "-o",
    required=True,
    type=click.Path(path_type=Path),
    help="Output folder (results, figures, report, SQLite store).",
)
@click.option(
    "--sheet",
    type=click.Path(path_type=Path),
    help="Sample sheet CSV (default: FOLDER/samples.csv when present).",
)
@click.option("--assay", help="Assay for rows without one, or for a folder without a sheet.")
@click.option(
    "--workers",
    "-j",
    type=int,
    default=None,
    help="Worker processes (default: one per CPU, at most 8). Each experiment runs isolated "
    "in a worker, so a crash or hang fails only that experiment; 0 runs in-process.",
)
@click.option("--fail-fast", is_flag=True, help="Stop at the first failed experiment.")
@click.option(
    "--scheduler",
    metavar="ADDRESS",
    help="Run on a Dask distributed cluster at this scheduler address.",
)
@click.option("--force", is_flag=True, help="Re-run every experiment, even unchanged ones.")
@click.option(
    "--retry-failed", is_flag=True, help="Re-run experiments that failed before, even if unchanged."
)
@click.option("--no-figures", is_flag=True, help="Skip drawing QC figures.")
@click.option(
    "--timeout",
    type=float,
    metavar="SECONDS",
    help="Fail an experiment whose analysis runs longer than this.",
)
@click.option(
    "--export",
    "export",
    metavar="NAMES",
    help="Comma-separated exporters to run (default: all available).",
)
@click.option("--no-report", is_flag=True, help="Do not write report.html.")
@click.pass_obj
def run(
    obj: _Ctx,
    folder: Path,
    out: Path,
    sheet: Path | None,
    assay: str | None,
    workers: int | None,
    fail_fast: bool,
    scheduler: str | None,
    force: bool,
    retry_failed: bool,
    no_figures: bool,
    timeout: float | None,
    export: str | None,
    no_report: bool,
) -> None:
    """Analyze every experiment in FOLDER and write results into --out."""

    def body() -> int:
        from assaykit.api import run as api_run
        from assaykit.execute import default_workers
        from assaykit.progress import make_reporter

        host = obj.host()
        reporter = make_reporter()
        result = api_run(
            folder,
            out,
            sheet=sheet,
            assay=assay,
            workers=default_workers() if workers is None else workers,
            fail_fast=fail_fast,
            scheduler=scheduler,
            force=force,
            retry_failed=retry_failed,
            figures=not no_figures,
            timeout=timeout,
            exporters=[e.strip() for e in export.split(",") if e.strip()] if export else None,
            report=not no_report,
            host=host,
            reporter=reporter,
        )
        ran = sum(1 for e in result.experiments if e.ran)
        failed = result.failed
        click.echo(
            f"{len(result.experiments)} experiment(s): {len(result.experiments) - len(failed)} ok, "
            f"{len(failed)} failed; {ran} ran, {len(result.experiments) - ran} unchanged; "
            f"{len(result.table)} record(s) in {out}"
        )
        for e in failed:
            click.echo(f"  FAILED {e.assay}/{e.experiment}: {e.error}", err=True)
        return result.exit_code

    sys.exit(_guard(obj, body))


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.option(
    "--brief",
    is_flag=True,
    help="Only each plugin's name, module, distribution, version and status, read from the "
    "installed packages' metadata: no plugin is imported.",
)
@click.pass_obj
def plugins(obj: _Ctx, as_json: bool, brief: bool) -> None:
    """List plugins with their assays, input kinds, roles and declared metrics."""

    def body() -> int:
        if brief:
            return _list_plugins_brief(obj, as_json)
        host = obj.host()
        desc = host.describe()
        if as_json:
            click.echo(json.dumps(desc, indent=2))
            return 0
        from rich.console import Console
        from rich.markup import escape
        from rich.table import Table

        console = Console()
        for p in desc:
            head = (
                f"[bold]{escape(p['name'])}[/bold] {escape(p['version'] or '')} "
                f"({escape(p['distribution'] or '-')})"
            )
            if p["status"] != "loaded":
                head += f" [yellow]{escape(p['status'])}: {escape(p['reason'])}[/yellow]"
            console.print(head)
            for a in p["assays"]:
                console.print(
                    f"  assay [cyan]{escape(a['name'])}[/cyan] {escape(a['version'])}: "
                    f"{escape(a['summary'])}\n"
                    f"    input kinds: {escape(', '.join(a['input_kinds']))}; "
                    f"roles: {escape(', '.join(a['roles']))}"
                )
                t = Table(
                    "entity_type",
                    "metric",
                    "unit",
                    "dtype",
                    "description",
                    box=None,
                    padding=(0, 2),
                )
                for m in a["metrics"]:
                    t.add_row(
                        m["entity_type"],
                        m["metric"],
                        m["unit"] or "-",
                        m["dtype"],
                        m["description"],
                    )
                console.print(t)
                if a.get("flags"):
                    ft = Table("qc flag", "severity", "meaning", box=None, padding=(0, 2))
                    for f in a["flags"]:
                        ft.add_row(f["flag"], f["severity"], f["meaning"])
                    console.print(ft)
            for r in p["readers"]:
                sniffs = " (sniffs content)" if r["sniffs"] else ""
                console.print(
                    f"  reader {escape(r['kind'])}: {escape(', '.join(r['suffixes']))}{sniffs}"
                )
            for e in p["exporters"]:
                avail = "" if e["available"] else " [yellow](unavailable)[/yellow]"
                console.print(f"  exporter {e['name']}{avail}")
        for line in _reader_lines(desc):
            console.print(escape(line), soft_wrap=True)
        return 0

    sys.exit(_guard(obj, body))


def _reader_lines(desc: list[dict[str, Any]]) -> list[str]:
    """Which reader reads what: one line per suffix naming every reader that claims it."""
    by_suffix: dict[str, list[tuple[bool, str]]] = {}
    for p in desc:
        builtin = p["name"] == "assaykit.builtin"
        for r in p["readers"]:
            how = "sniffs content" if r["sniffs"] else "suffix only"
            label = f"{r['name'] or r['key']} [{r['kind']}] from {p['name']} ({how})"
            for sfx in r["suffixes"]:
                by_suffix.setdefault(sfx, []).append((builtin, label))
    lines = [
        "readers by suffix (per file: longest suffix, then highest sniff score, "
        "then a plugin's reader before a built-in one; a tie is a conflict):"
    ]
    # x.plate.csv is ranked before .csv: list longer suffixes of one extension first
    for sfx in sorted(by_suffix, key=lambda x: (x.rsplit(".", 1)[-1], -x.count("."), x)):
        labels = [lab for _, lab in sorted(by_suffix[sfx], key=lambda t: t[0])]
        lines.append(f"  {sfx}: " + "; ".join(labels))
    return lines


def _list_plugins_brief(obj: _Ctx, as_json: bool) -> int:
    from assaykit.plugins import HostConfig, discover_plugins

    cfg = HostConfig.from_env(
        autoload=False if obj.no_autoload else None, load=obj.load, block=obj.block
    )
    entries = [e.describe() for e in discover_plugins(cfg)]
    if as_json:
        click.echo(json.dumps(entries, indent=2))
        return 0
    for e in entries:
        status = "" if e["status"] == "to load" else f" [{e['status']}: {e['reason']}]"
        click.echo(
            f"{e['name']} {e['version'] or ''} ({e['distribution'] or '-'}) {e['module']}{status}"
        )
    return 0


@cli.command()
@click.argument("what", metavar="ASSAY|records")
@click.pass_obj
def schema(obj: _Ctx, what: str) -> None:
    """Print the JSON Schema of an assay's Params, or of the records."""

    def body() -> int:
        if what == "records":
            from assaykit.records import record_json_schema

            click.echo(json.dumps(record_json_schema(), indent=2))
            return 0
        host = obj.host()
        assay = host.get_assay(what)
        click.echo(json.dumps(assay.Params.model_json_schema(), indent=2))
        return 0

    sys.exit(_guard(obj, body))


@cli.command("new-plugin")
@click.argument("name")
@click.option(
    "--dir",
    "directory",
    default=".",
    show_default=True,
    type=click.Path(path_type=Path, file_okay=False),
    help="Where to create the plugin's folder.",
)
@click.pass_obj
def new_plugin(obj: _Ctx, name: str, directory: Path) -> None:
    """Create a ready-to-install plugin package from the template."""

    def body() -> int:
        from assaykit.scaffold import create_plugin

        path = create_plugin(name, directory)
        click.echo(f"created {path}\nnext: pip install -e {path} && pytest {path}")
        return 0

    sys.exit(_guard(obj, body))


@cli.command("fcs")
@click.argument("file", type=click.Path(path_type=Path, dir_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.option(
    "--strict",
    is_flag=True,
    help="Refuse the file at its first deviation from the FCS standard instead of repairing it.",
)
@click.pass_obj
def fcs_command(obj: _Ctx, file: Path, as_json: bool, strict: bool) -> None:
    """Conformance report of an FCS file: each deviation from the standard and its repair.

    Exit code 0 when every data set was read (repaired or not), 1 when the
    file cannot be read (or, with --strict, deviates from the standard).
    """

    def body() -> int:
        from assaykit.cytometry.fcs import read_fcs_all

        datasets = read_fcs_all(file, strict=strict)
        report: dict[str, Any] = {
            "path": str(file),
            "conforms": not any(d.conformance for d in datasets),
            "datasets": [
                {
                    "dataset": d.dataset_index,
                    "version": d.version,
                    "instrument": d.instrument,
                    "datatype": d.datatype,
                    "n_events": d.n_events,
                    "channels": d.channels,
                    "deviations": [dev.to_dict() for dev in d.conformance],
                    "notes": [w for w in d.warnings if w not in {x.message for x in d.conformance}],
                }
                for d in datasets
            ],
        }
        if as_json:
            click.echo(json.dumps(report, indent=2, ensure_ascii=False))
            return EXIT_OK
        n_dev = sum(len(d["deviations"]) for d in report["datasets"])
        lines = [
            f"{file}: {len(datasets)} data set(s); "
            + ("conforms to the FCS standard" if not n_dev else f"{n_dev} deviation(s), repaired")
        ]
        for d in report["datasets"]:
            lines.append(
                f"data set {d['dataset']}: {d['version']}, {d['instrument'] or 'no $CYT'}, "
                f"$DATATYPE {d['datatype']}, {d['n_events']} events x {len(d['channels'])} "
                f"channels"
            )
            for dev in d["deviations"]:
                lines.append(f"  - {dev['field']}: found {dev['found']}")
                lines.append(f"      rule:     {dev['rule']}")
                lines.append(f"      expected: {dev['expected']}")
                lines.append(f"      repair:   {dev['repair']}")
            for note in d["notes"]:
                lines.append(f"  note: {note}")
        click.echo("\n".join(lines))
        return EXIT_OK

    sys.exit(_guard(obj, body))


#: Smallest image side (px) the geometry command accepts: below it no lane can be told apart.
GEOMETRY_MIN_SIDE = 32


def _parse_lanes(values: tuple[str, ...]) -> int | list[int | None] | None:
    """``--lanes 6`` (every strip), ``--lanes 6,4`` or ``--lanes 6 --lanes 4`` (per strip, top
    first; ``auto`` or ``-`` leaves a strip's count free)."""
    tokens = [t.strip() for v in values for t in v.split(",")]
    if not tokens:
        return None
    out: list[int | None] = []
    for t in tokens:
        if t.lower() in ("auto", "-", ""):
            out.append(None)
            continue
        try:
            n = int(t)
        except ValueError:
            n = 0
        if n < 1:
            raise click.BadParameter(
                f"{t!r}: expected a lane count >= 1, or 'auto' (comma list per strip)",
                param_hint="'--lanes'",
            )
        out.append(n)
    if len(out) == 1:
        return out[0] if out[0] is not None else None
    return out


def _geometry_summary(d: dict[str, Any], figure: Path | None, min_strips: int | None) -> str:
    """A few lines a person reads before a batch: what was found, and what looks wrong."""
    h, w = d["shape"]
    lossy = ", lossy" if d["lossy"] else ""
    lines = [
        f"{d['file']}: {w}x{h} px, {d['bit_depth']}-bit {d['source_format'] or ''}{lossy}".rstrip(),
        f"polarity: {d['polarity']} ({d['polarity_rule']})",
        f"rotation: {d['rotation_deg']:+.2f} deg; {len(d['strips'])} strip(s)",
    ]
    for s in d["strips"]:
        exp = f", expected {s['expected_lanes']}" if s["expected_lanes"] is not None else ""
        r0, r1 = s["rows_in_file"]
        lines.append(
            f"  strip {s['number']}: rows {s['rows'][0]}-{s['rows'][1]} (file {r0:.0f}-{r1:.0f}), "
            f"rotation {s['rotation_deg']:+.2f} deg, {len(s['lanes'])} lane(s) "
            f"({s['detected_lanes']} detected{exp}; {s['lane_method']}, "
            f"pitch {s['lane_pitch']:.1f} px)"
        )
        centres = ", ".join(f"{lane['center_in_file']:.0f}" for lane in s["lanes"])
        nbands = " ".join(str(len(lane["bands"])) for lane in s["lanes"])
        lines.append(f"    lane centres (file x): {centres}")
        lines.append(f"    bands per lane: {nbands}")
    if min_strips is not None and len(d["strips"]) < min_strips:
        lines.append(f"warning: {min_strips} strip(s) asked for, {len(d['strips'])} found")
    if d["findings"]:
        lines.append("findings:")
        lines += [f"  {f['severity']}: {f['flag']}: {f['message']}" for f in d["findings"]]
    else:
        lines.append("findings: none")
    lines += [f"note: {n}" for n in d["notes"]]
    if figure is not None:
        lines.append(f"figure: {figure}")
    return "\n".join(lines)


@cli.command()
@click.argument("image", type=click.Path(path_type=Path, dir_okay=False))
@click.option(
    "--lanes",
    "lanes",
    multiple=True,
    metavar="N[,N...]",
    help="Expected lanes: one count for every strip, or one per strip, top first "
    "(repeat the option or give a comma list; 'auto' leaves a strip free).",
)
@click.option(
    "--strips", "min_strips", type=click.IntRange(min=1), help="At least this many strips."
)
@click.option(
    "--polarity",
    type=click.Choice(["auto", "light_bands_on_dark", "dark_bands_on_light"]),
    default="auto",
    show_default=True,
    help="The file's polarity.",
)
@click.option(
    "--gel",
    "is_gel",
    is_flag=True,
    help="An agarose gel: find the comb's well row and leave it (and its glow) out of the "
    "band search, as msp_gel does.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the geometry as JSON on stdout.")
@click.option(
    "--out",
    "-o",
    "out",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Figure file (PNG). Default without --json: IMAGE_STEM.geometry.png here; "
    "with --json only written when given.",
)
@click.pass_obj
def geometry(
    obj: _Ctx,
    image: Path,
    lanes: tuple[str, ...],
    min_strips: int | None,
    polarity: str,
    is_gel: bool,
    as_json: bool,
    out: Path | None,
) -> None:
    """Show what the imaging layer finds in IMAGE: polarity, rotation, strips, lanes, bands.

    Check an image before a batch: the figure draws every strip, lane and band on the
    file's own pixels; --json gives the same in both frames (for comparing with hand
    annotations).
    """
    expected = _parse_lanes(lanes)

    def body() -> int:
        import warnings

        from assaykit.assay import render_png
        from assaykit.imaging.io import load_image
        from assaykit.imaging.overview import describe_geometry, geometry_figure
        from assaykit.imaging.pipeline import prepare_image

        if not image.exists():
            _err(f"{image}: file not found; expected a gel or blot image (TIFF, PNG or JPEG)")
            return EXIT_USAGE
        try:
            loaded = load_image(image)
            h, w = loaded.shape
            if min(h, w) < GEOMETRY_MIN_SIDE:
                _err(
                    f"{image}: image is {w}x{h} px; expected at least "
                    f"{GEOMETRY_MIN_SIDE}x{GEOMETRY_MIN_SIDE} px to find lanes"
                )
                return EXIT_USAGE
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                prepared = prepare_image(
                    loaded,
                    polarity=polarity,  # type: ignore[arg-type]
                    expected_lanes=expected,
                    min_strips=min_strips,
                    strips=True,
                    wells=is_gel,
                )
            desc = describe_geometry(prepared)
        except AssaykitError as exc:
            # unreadable, corrupt or lane-less input: the lab must fix the input (exit 2)
            msg = str(exc) if str(image) in str(exc) else f"{image}: {exc}"
            if "no lanes found" in msg and expected is None:
                msg += "; try --lanes N"
            _err(msg)
            return EXIT_USAGE
        figure = out
        if figure is None and not as_json:
            figure = Path(f"{image.stem}.geometry.png")  # in the current directory
        if figure is not None:
            png = render_png(geometry_figure(prepared, desc, image=loaded.data), dpi=100)
            try:
                figure.write_bytes(png)
            except OSError as exc:
                _err(f"{figure}: cannot write the figure: {exc.strerror or exc}")
                return EXIT_USAGE
        if as_json:
            click.echo(json.dumps(desc, indent=2))
        else:
            click.echo(_geometry_summary(desc, figure, min_strips))
        return EXIT_OK

    sys.exit(_guard(obj, body))


def main() -> None:
    cli(prog_name="assaykit")


if __name__ == "__main__":  # pragma: no cover
    main()
