"""The host's own hook implementations: built-in readers and exporters.

They go through the same hooks as any plugin, so the host is its own first
plugin and nothing about readers or exporters is special-cased.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from assaykit.exporters import BUILTIN_EXPORTERS, Exporter
from assaykit.hookspecs import hookimpl
from assaykit.readers import Reader, TableReader


class FCSReader(Reader):
    """Flow-cytometry FCS 2.0/3.0/3.1 files (and Beckman ``.lmd``, which are FCS inside).

    ``read`` returns a list with one :class:`assaykit.cytometry.fcs.FCSData`
    per data set, because a file may chain several through ``$NEXTDATA``
    (Guava Muse) and every one of them must be read; most files hold one.
    """

    kind = "fcs"
    suffixes = (".fcs", ".lmd")
    name = "FCS (assaykit.cytometry.fcs)"

    def read(self, path: Path) -> Any:
        from assaykit.cytometry.fcs import read_fcs_all

        return read_fcs_all(path)

    def metadata(self, path: Path) -> dict[str, str | None]:
        from assaykit.cytometry.fcs import read_fcs_metadata

        meta = read_fcs_metadata(path)
        return {"instrument": meta.instrument, "acquired_at": meta.acquired_at}

    def conformance(self, path: Path) -> list[dict[str, Any]] | None:
        """Every data set's deviations from the FCS standard (reads the events too)."""
        from assaykit.cytometry.fcs import read_conformance

        return [d.to_dict() for d in read_conformance(path)]


class ImageReader(Reader):
    """Gel and blot images: TIFF (8/16-bit, LZW/deflate via imagecodecs), PNG and JPEG.

    ``read`` returns :class:`assaykit.imaging.io.LoadedImage`, which records
    the bit depth, the true saturation value and whether the source was lossy,
    so records can flag JPEG or 8-bit sources and saturated pixels.
    """

    kind = "image"
    suffixes = (".tif", ".tiff", ".png", ".jpg", ".jpeg")
    name = "image (assaykit.imaging.io)"

    def read(self, path: Path) -> Any:
        from assaykit.imaging.io import load_image

        return load_image(path)

    def metadata(self, path: Path) -> dict[str, str | None]:
        """The imager (TIFF Make/Model/Software) and time (DateTime), from tags only."""
        if path.suffix.lower() not in (".tif", ".tiff"):
            return {}
        import tifffile

        try:
            with tifffile.TiffFile(path) as tif:
                tags = tif.pages[0].tags

                def tag(code: int) -> str:
                    t = tags.get(code)
                    return str(t.value).strip() if t is not None else ""

                instrument = " ".join(v for v in (tag(271), tag(272)) if v) or tag(305)
                when = tag(306)
        except Exception:  # the analysis reports unreadable files properly
            return {}
        acquired = None
        if len(when) >= 19 and when[4] == ":" and when[7] == ":":
            acquired = f"{when[:4]}-{when[5:7]}-{when[8:10]}T{when[11:19]}"
        return {"instrument": instrument or None, "acquired_at": acquired}


@hookimpl
def assaykit_register_readers(register: Callable[[Reader], None]) -> None:
    register(TableReader())
    register(FCSReader())
    register(ImageReader())


@hookimpl
def assaykit_register_exporters(register: Callable[[Exporter], None]) -> None:
    for cls in BUILTIN_EXPORTERS:
        register(cls())
