"""What a lab can say about an image's geometry, in the file's pixels.

Why: automatic detection is the default, but a lab that has looked at its
image knows where its membranes, lanes and band are (as in Image Lab's manual
lane tools), and what it says must win, without a first run to read a figure
from. Every coordinate is a pixel of the file as the lab opened it (x from
the left, y from the top), so it can be read off any image viewer.

In ``assaykit.toml``, per image (the key is the file's path relative to the
folder, or its name)::

    [params.western_blot.geometry."blots/blot1.tif"]
    strips = [[40, 410], [450, 820]]          # rows of each membrane, top first
    lane_span = [[112, 934], [108, 930]]      # first and last lane centre per strip
    # or: lanes = [[112, 215, 318, ...], [...]]  every lane centre per strip
    band_rows = { RARB = [150, 190], GAPDH = [610, 650] }
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from pathlib import PurePosixPath

from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = ["ImageGeometry", "geometry_for"]

_Pair = tuple[float, float]


class ImageGeometry(BaseModel):
    """The lab's geometry for one image (module docs); every field optional."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    strips: list[tuple[int, int]] | None = Field(
        None,
        description="Rows [top, bottom) of each membrane strip (or gel row) in the file's "
        "pixels, top first.",
    )
    lane_span: list[_Pair | None] | None = Field(
        None,
        description="Per strip, the x of the first and of the last lane centre (file pixels); "
        "lanes in between are evenly spaced (the lane count comes from the sheet's n_lanes).",
    )
    lanes: list[list[float] | None] | None = Field(
        None, description="Per strip, the x of every lane centre (file pixels), left to right."
    )
    band_rows: dict[str, _Pair] = Field(
        default_factory=dict,
        description="Per target (or '*'), the rows [top, bottom] of the file where its band "
        "is (file pixels).",
    )

    @model_validator(mode="after")
    def _check(self) -> ImageGeometry:
        for k, (a, b) in enumerate(self.strips or []):
            if not 0 <= a < b:
                raise ValueError(f"strips[{k}]: rows [{a}, {b}] must satisfy 0 <= top < bottom")
        for k, pair in enumerate(self.lane_span or []):
            if pair is not None and not pair[0] < pair[1]:
                raise ValueError(
                    f"lane_span[{k}]: first centre {pair[0]} must be left of {pair[1]}"
                )
        for k, cs in enumerate(self.lanes or []):
            if cs is not None and any(b <= a for a, b in itertools.pairwise(cs)):
                raise ValueError(f"lanes[{k}]: lane centres must increase from left to right")
        for t, (top, bottom) in self.band_rows.items():
            if not top < bottom:
                raise ValueError(f"band_rows[{t!r}]: top {top} must be above bottom {bottom}")
        return self


def geometry_for(table: Mapping[str, ImageGeometry], relpath: str) -> ImageGeometry | None:
    """The entry for a file: by its path relative to the folder, else by its name."""
    if relpath in table:
        return table[relpath]
    name = PurePosixPath(relpath).name
    return table.get(name)
