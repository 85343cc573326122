"""Capture the matplotlib Figures a plugin hands to ``add_figure`` and measure their text.

Why: the report shows each PNG at its native pixel size, so every text must be at
least 10 px there (issue 14). The truth is the rule itself (points x dpi / 72),
not anything the plugin computes.
"""

from __future__ import annotations

import inspect
from typing import Any

import pytest
from assaykit import AssayResult, render_png

MIN_PX = 10.0
#: the dpi the PNG is saved at (render_png's default, used by add_figure)
SAVE_DPI = float(inspect.signature(render_png).parameters["dpi"].default)


def capture_figures(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, Any, str]]:
    """Record (name, Figure, caption) of every figure added while the patch is active."""
    seen: list[tuple[str, Any, str]] = []
    original = AssayResult.add_figure

    def spy(self: AssayResult, name: str, figure: Any, **kw: Any) -> Any:
        seen.append((name, figure, kw.get("caption", "")))
        return original(self, name, figure, **kw)

    monkeypatch.setattr(AssayResult, "add_figure", spy)
    return seen


def small_texts(fig: Any) -> list[tuple[str, float]]:
    """Visible, non-empty texts whose size at SAVE_DPI is below MIN_PX, as (text, px).

    A :class:`assaykit.RasterFigure` is rendered and its log of drawn texts read:
    the font size in px that Pillow rasterised each text at.
    """
    from matplotlib.text import Text

    if hasattr(fig, "text_log"):
        fig.to_array()
        assert fig.text_log, "the figure drew no text at all"
        return [(t, float(px)) for t, px in fig.text_log if px < MIN_PX]

    fig.canvas.draw()  # tick labels exist only after a draw
    bad = []
    for t in fig.findobj(Text):
        if not t.get_visible() or not t.get_text().strip():
            continue
        px = t.get_fontsize() * SAVE_DPI / 72.0
        if px < MIN_PX:
            bad.append((t.get_text(), px))
    return bad


def min_text_px(fig: Any) -> float:
    """Smallest visible text size of the figure in saved pixels."""
    from matplotlib.text import Text

    fig.canvas.draw()
    sizes = [
        t.get_fontsize() * SAVE_DPI / 72.0
        for t in fig.findobj(Text)
        if t.get_visible() and t.get_text().strip()
    ]
    return min(sizes)
