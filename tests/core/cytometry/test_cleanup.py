"""Cleanup gates on generated data with known debris/doublet labels, and on real files."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pytest
from assaykit.cytometry.cleanup import (
    CleanupParams,
    auto_cleanup,
    debris_cutoff,
    draw_cleanup_gates,
    plot_cleanup,
)
from assaykit.errors import AnalysisError
from pydantic import ValidationError
from synthetic import scatter_sample

# Accuracy floors measured on seeds 0..4 (debris ~0.9995, singlets ~0.9997), with margin.
DEBRIS_ACCURACY = 0.995
SINGLET_ACCURACY = 0.995


@pytest.mark.parametrize("seed", range(5))
def test_cleanup_accuracy_on_known_labels(seed: int) -> None:
    s = scatter_sample(n=100_000, seed=seed)
    r = auto_cleanup(s.columns())
    assert r.debris_method_used == "valley"
    debris_acc = float(np.mean(r.cells == ~s.is_debris))
    not_debris = ~s.is_debris
    singlet_acc = float(np.mean(r.singlets[not_debris] == ~s.is_doublet[not_debris]))
    assert debris_acc >= DEBRIS_ACCURACY, debris_acc
    assert singlet_acc >= SINGLET_ACCURACY, singlet_acc
    # doublets are the ones that must go
    assert r.singlets[s.is_doublet].mean() < 0.01
    # the cutoff lies between the debris and cell populations
    assert 15_000 < (r.fsc_cutoff or 0) < 50_000
    assert r.ratio_center == pytest.approx(0.80, abs=0.01)


def test_no_debris_means_nothing_removed() -> None:
    s = scatter_sample(n=30_000, debris_fraction=0.0, doublet_fraction=0.0, seed=3)
    r = auto_cleanup(s.columns())
    assert r.debris_method_used == "none_found"
    assert r.fsc_cutoff is None
    assert r.cells.all()
    assert r.singlets.mean() > 0.99


def test_parameters_override_and_validate() -> None:
    s = scatter_sample(n=20_000, seed=1)
    r = auto_cleanup(s.columns(), {"debris_method": "fixed", "debris_cutoff": 30_000.0,
                                   "singlets": False})
    assert r.fsc_cutoff == 30_000.0
    assert np.array_equal(r.cells, s.fsc_a >= 30_000.0)
    assert np.array_equal(r.singlets, r.cells)
    with pytest.raises(ValidationError):
        CleanupParams(n_mad_low=-1)
    with pytest.raises(ValidationError):
        CleanupParams(unknown_field=1)  # type: ignore[call-arg]
    with pytest.raises(AnalysisError):
        debris_cutoff([1.0, 2.0], CleanupParams(debris_method="fixed"))


def test_summary_reports_boundaries() -> None:
    s = scatter_sample(n=20_000, seed=2)
    summ = auto_cleanup(s.columns()).summary()
    assert summ["n_events"] == 20_000
    assert summ["ratio_low"] < summ["ratio_center"] < summ["ratio_high"]
    assert summ["params"]["fsc_area"] == "FSC-A"


def test_figure_draws_the_gates(tmp_path: Path) -> None:
    s = scatter_sample(n=20_000, seed=4)
    r = auto_cleanup(s.columns())
    fig = plot_cleanup(s.columns(), r, title="synthetic")
    ax1, ax2 = fig.axes[:2]
    assert any(abs(line.get_xdata()[0] - r.fsc_cutoff) < 1e-6 for line in ax1.get_lines())
    assert len(ax2.get_lines()) == 2
    out = tmp_path / "cleanup.png"
    fig.savefig(out)
    assert out.stat().st_size > 10_000
    from matplotlib.figure import Figure

    ax = Figure().subplots()
    ax.set_xlim(0, 100)
    draw_cleanup_gates(ax, r, "singlets")
    assert len(ax.get_lines()) == 2


def test_cleanup_runs_on_every_real_file_with_scatter(shared_data: Path) -> None:
    """Real instrument files (mostly PBS blanks, so no truth labels): the gates
    must be computed, consistent, and drawn without error."""
    from assaykit.cytometry.events import EventFrame
    from assaykit.cytometry.fcs import read_fcs
    from assaykit.errors import FCSError

    folder = shared_data / "fcs-instruments"
    done = []
    for p in sorted(folder.rglob("*")):
        if not p.is_file() or p.suffix.lower() not in (".fcs", ".lmd"):
            continue
        try:
            f = read_fcs(p)
        except FCSError:
            continue  # the deliberately broken files
        if not {"FSC-A", "FSC-H", "SSC-A"} <= set(f.channels) or f.n_events < 1000:
            continue
        frame = EventFrame.from_fcs(f)
        r = auto_cleanup(frame)
        assert r.cells.shape == r.singlets.shape == (f.n_events,)
        assert not (r.singlets & ~r.cells).any()
        assert r.ratio_low is not None and r.ratio_center is not None and r.ratio_high is not None
        assert r.ratio_low < r.ratio_center < r.ratio_high
        assert r.singlets.sum() > 0.2 * r.cells.sum()
        plot_cleanup(frame, r, title=p.name)
        done.append(p.name)
    assert len(done) >= 5, done
