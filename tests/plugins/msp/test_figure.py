"""The audit figure: drawn when figures are asked for, never otherwise, and a real PNG."""

from __future__ import annotations

import io

import numpy as np
from assaykit import PluginHost, analyze
from helpers.msp_data import EXAMPLE, experiment


def test_figure_is_drawn_and_is_a_png_of_the_whole_gel(host: PluginHost) -> None:
    res = analyze("msp_gel", experiment(EXAMPLE, host), figures=True, host=host)
    assert [f.name for f in res.figures] == ["gel"]
    fig = res.figures[0]
    assert fig.sample_id is None and "call" in fig.caption
    import matplotlib.image as mpimg

    img = mpimg.imread(io.BytesIO(fig.png), format="png")
    h, w = img.shape[:2]
    assert w >= 1000 and h >= 600  # legible at full width
    assert np.ptp(img[..., :3]) > 0.5  # not blank


def test_no_figure_when_figures_are_off(host: PluginHost) -> None:
    res = analyze("msp_gel", experiment(EXAMPLE, host), figures=False, host=host)
    assert res.figures == []
    assert any(r.metric == "call" for r in res.records)
