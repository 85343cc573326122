"""Every text of the MSP gel figure is >= 10 px at its native size, and the caption
says what is shown in words before the method (issue 14)."""

from __future__ import annotations

import pytest
from assaykit import PluginHost, analyze
from helpers.figure_text import MIN_PX, capture_figures, small_texts
from helpers.msp_data import EXAMPLE, experiment


def test_gel_figure_text_is_at_least_10_px(
    host: PluginHost, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen = capture_figures(monkeypatch)
    analyze("msp_gel", experiment(EXAMPLE, host), figures=True, host=host)
    assert [name for name, _, _ in seen] == ["gel"]
    _, fig, caption = seen[0]
    assert small_texts(fig) == [], f"texts below {MIN_PX} px"
    words, _, method = caption.partition("Method:")
    assert "methylated (M)" in words and "unmethylated (U)" in words and method.strip()
