"""Every text of the western blot and lane-profile figures is >= 10 px at native size,
also with many lanes, and captions say what is shown before the method (issue 14)."""

from __future__ import annotations

from pathlib import Path

import pytest
from assaykit import PluginHost
from helpers.figure_text import MIN_PX, capture_figures, small_texts
from helpers.westerndata import make_case, run_case


@pytest.mark.parametrize("n_lanes", [6, 14])
def test_blot_and_profile_text_is_at_least_10_px(
    host: PluginHost, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, n_lanes: int
) -> None:
    case = make_case(tmp_path, 38, n_lanes=n_lanes)
    seen = capture_figures(monkeypatch)
    run_case(host, case, figures=True)
    assert [name for name, _, _ in seen] == ["blot:blot.tif", "profiles:blot.tif"]
    for name, fig, caption in seen:
        assert small_texts(fig) == [], f"{name}: texts below {MIN_PX} px"
        words, _, method = caption.partition("Method:")
        assert ("Western blot" in words or "Band signal" in words) and "rolling_ball" in method
