"""The real instrument files of ``fcs-instruments/`` and the channels to analyze them with.

Why a table: real files name their detectors in every way there is (``FL1-H``,
``B1-A``, ``FITC-A``, ``FL1 INT LOG``), and some have no pulse area or height,
so a test that runs a flow plugin on them gives the channels as parameters,
as a lab would in ``assaykit.toml``. ``fluor`` is the FITC-like detector (TUNEL
FITC-dUTP, Rh123), ``red`` a red detector standing in for PI.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class InstrumentFile:
    """One real file, the channels to use, and whether it is readable at all."""

    relpath: str
    fluor: str = "FITC-A"
    red: str | None = None
    fsc_area: str = "FSC-A"
    fsc_height: str | None = "FSC-H"
    readable: bool = True
    notes: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.relpath.split("/")[0]

    def prep_params(self) -> dict[str, Any]:
        """The shared FlowPrepParams fields for this file."""
        p: dict[str, Any] = {"fsc_area": self.fsc_area}
        if self.fsc_height is None:
            p["singlet_gate"] = False
        else:
            p["fsc_height"] = self.fsc_height
        p.update(self.extra)
        return p


INSTRUMENT_FILES: tuple[InstrumentFile, ...] = (
    InstrumentFile("Cytek_xP5/Cytek_xP5.fcs", "FL1", "FL3", "FSC", None),
    InstrumentFile("FACSCaliburHTS/Sample_Well_A02.fcs", "FL1-H", "FL3-H", "FSC-H", None),
    InstrumentFile("FACS_Diva/facs_diva_test.fcs", "FITC-A", "PerCP-A", "FSC-A", None,
                   notes="no FSC-H: singlet gate off"),
    InstrumentFile("Fortessa/FCS_3.0_Fortessa_PBS_Specimen_001_A1_A01.fcs", "FITC-A",
                   "PE-Texas Red-A"),
    InstrumentFile("GuavaMuse/Guava Muse.fcs", "YEL-HLin", "RED-HLin", "FSC-HLin", None,
                   notes="4 data sets; no FITC detector"),
    InstrumentFile("HTS_BD_LSR-II/HTS_BD_LSR_II_Mixed_Specimen_001_D6_D06.fcs", "FITC-A",
                   "PE-TxRed YG-A"),
    InstrumentFile(
        "MiltenyiBiotec/FCS2.0/EY_2013-07-19_PBS_FCS_2.0_Custom_Without_Add_Well_A1.001.fcs",
        "B1-A", "Y2-A",
    ),
    InstrumentFile("MiltenyiBiotec/FCS3.0/FCS3.0_Custom_Compatible.fcs", "B1-A", "Y2-A"),
    InstrumentFile(
        "MiltenyiBiotec/FCS3.1/EY_2013-07-19_PBS_FCS_3.1_Custom_Add_Well_A1.001.fcs",
        "B1-A", "Y2-A",
    ),
    InstrumentFile(
        "MiltenyiBiotec/FCS3.1/EY_2013-07-19_PBS_FCS_3.1_Custom_Without_Add_Well_A1.001.fcs",
        "B1-A", "Y2-A",
    ),
    InstrumentFile("MiltenyiBiotec/FCS3.1/EY_2013-07-19_PBS_FCS_3.1_Well_A1.001.fcs",
                   "B1-A", "Y2-A"),
    InstrumentFile("MiltenyiBiotec/FCS3.1/SG_2014-09-26_Duplicate_Names.fcs", "FL7-A", None),
    InstrumentFile("cyflow_cube_8/cyflow_cube_8.fcs", "FL1", "FL3", "FSC", None),
    InstrumentFile("fake_bitmask_error/fcs1_cleaned.lmd", "FL1 INT LOG", "FL4 INT LOG",
                   "FS INT LIN", None),
    InstrumentFile("fake_large_fcs/fake_large_fcs.fcs", "FITC-A", "PE-Texas Red-A"),
    InstrumentFile("corrupted/corrupted.fcs", readable=False, notes="10 bytes"),
    InstrumentFile("cytek-nl-2000/sample_header.fcs", readable=False, notes="header only"),
)
