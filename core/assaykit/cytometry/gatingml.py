"""Read Gating-ML 2.0 gate files into :mod:`assaykit.cytometry.gates` objects.

Why: labs draw gates in FlowJo, Cytobank, FlowKit … and export Gating-ML; this
reader lets the same gates run in assaykit, and the ISAC compliance set checks
that they select exactly the same events.

Supported: ``RectangleGate`` (ranges and boxes), ``PolygonGate``,
``EllipsoidGate`` (any dimension), ``QuadrantGate`` (any number of dividers and
values), ``BooleanGate`` (``and``/``or``/``not``, ``use-as-complement``),
``gating:parent_id``; transforms ``flin``, ``flog``, ``fasinh``, ``logicle``,
``hyperlog`` and ``fratio`` (ratio dimensions); compensation references
``uncompensated``, ``FCS`` and named ``spectrumMatrix`` elements.

Safety: parsed with :mod:`defusedxml`, DTDs and entities refused. A Gating-ML
document never needs either, and refusing them closes XXE and
entity-expansion attacks from a file someone mailed in.

Elements the reader does not know (e.g. ``fratio`` inside a non-ratio context,
``fcs-dimension`` forms it cannot resolve) make that gate — and any gate that
depends on it — *unsupported*: it is listed in
:attr:`GatingStrategy.unsupported` with the reason, and asking for its
membership raises :class:`GatingMLError`, never a silent empty gate.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from xml.etree.ElementTree import Element, ParseError

import defusedxml
import defusedxml.ElementTree as SafeET
import numpy as np

from assaykit.cytometry.compensation import SpilloverMatrix
from assaykit.cytometry.events import EventData, EventFrame, as_event_source
from assaykit.cytometry.gates import (
    BooleanGate,
    Dimension,
    Divider,
    EllipsoidGate,
    Gate,
    GateOperand,
    Mask,
    PolygonGate,
    QuadrantGate,
    RatioDimension,
    RectangleGate,
)
from assaykit.cytometry.transforms import (
    AsinhTransform,
    HyperlogTransform,
    LinearTransform,
    LogicleTransform,
    LogTransform,
    Transform,
)
from assaykit.errors import AssaykitError, InputError

__all__ = ["GatingMLError", "GatingStrategy", "parse_gatingml", "read_gatingml"]

logger = logging.getLogger(__name__)

NS_GATING = "http://www.isac-net.org/std/Gating-ML/v2.0/gating"
NS_TRANSFORMS = "http://www.isac-net.org/std/Gating-ML/v2.0/transformations"
NS_DATATYPE = "http://www.isac-net.org/std/Gating-ML/v2.0/datatypes"

_G = f"{{{NS_GATING}}}"
_T = f"{{{NS_TRANSFORMS}}}"
_D = f"{{{NS_DATATYPE}}}"

_GATE_TAGS = {
    _G + "RectangleGate",
    _G + "PolygonGate",
    _G + "EllipsoidGate",
    _G + "QuadrantGate",
    _G + "BooleanGate",
}


class GatingMLError(InputError):
    """A Gating-ML document is unsafe, malformed, or uses something unsupported."""


class _Unsupported(AssaykitError):
    """Internal: a gate uses a feature this reader does not implement."""


@dataclass(frozen=True)
class _RatioSpec:
    id: str
    numerator: str
    denominator: str
    a: float
    b: float
    c: float


@dataclass
class GatingStrategy:
    """The gates, transforms and matrices of one Gating-ML document.

    ``gates`` maps every gate id — including each quadrant's id — to a gate
    whose ``parent`` chain is already wired, so ``gates[id].membership(frame)``
    is the Gating-ML result for that id.
    """

    gates: dict[str, Gate] = field(default_factory=dict)
    quadrant_gates: dict[str, QuadrantGate] = field(default_factory=dict)
    transforms: dict[str, Transform] = field(default_factory=dict)
    matrices: dict[str, SpilloverMatrix] = field(default_factory=dict)
    unsupported: dict[str, str] = field(default_factory=dict)
    source: str = ""

    def frame(self, data: Any) -> EventFrame:
        """An :class:`EventFrame` that knows this document's spectrum matrices.

        ``data`` is an :class:`EventFrame` or an FCS reader result (events are
        then converted to scale units with ``$PnE``/``$PnG``).
        """
        base = data if isinstance(data, EventFrame) else EventFrame.from_fcs(data)
        return base.with_matrices(self.matrices) if self.matrices else base

    def gate(self, gate_id: str) -> Gate:
        if gate_id in self.unsupported:
            raise GatingMLError(self.source, f"gate {gate_id!r} is unsupported: "
                                f"{self.unsupported[gate_id]}")
        try:
            return self.gates[gate_id]
        except KeyError:
            raise GatingMLError(self.source, f"no gate with id {gate_id!r}") from None

    def membership(self, gate_id: str, data: EventData) -> Mask:
        """Events in ``gate_id`` and all its ancestors."""
        return self.gate(gate_id).membership(data)

    def evaluate(self, data: EventData) -> dict[str, Mask]:
        """Membership of every supported gate, sharing work between them."""
        source = as_event_source(data)
        cache: dict[int, Mask] = {}
        return {gid: g.membership(source, cache) for gid, g in self.gates.items()}


def _attr(el: Element, name: str, ns: str = _G) -> str | None:
    return el.get(ns + name)


def _req(el: Element, name: str, ns: str, what: str) -> str:
    v = el.get(ns + name)
    if v is None:
        raise _Unsupported(f"{what}: missing attribute {name!r}")
    return v


def _float_attr(el: Element, name: str, ns: str, what: str) -> float:
    v = _req(el, name, ns, what)
    try:
        return float(v)
    except ValueError:
        raise _Unsupported(f"{what}: attribute {name}={v!r} is not a number") from None


def _parse_transform(el: Element) -> Transform | _RatioSpec:
    tid = _req(el, "id", _T, "transformation")
    children = [c for c in el if isinstance(c.tag, str) and c.tag.startswith(_T)]
    if len(children) != 1:
        raise _Unsupported(f"transformation {tid!r} must hold exactly one transform element")
    t = children[0]
    kind = t.tag[len(_T) :]

    def p(name: str) -> float:
        return _float_attr(t, name, _T, f"transformation {tid!r}")

    if kind == "flin":
        return LinearTransform(p("T"), p("A"))
    if kind == "flog":
        return LogTransform(p("T"), p("M"))
    if kind == "fasinh":
        return AsinhTransform(p("T"), p("M"), p("A"))
    if kind == "logicle":
        return LogicleTransform(p("T"), p("W"), p("M"), p("A"))
    if kind == "hyperlog":
        return HyperlogTransform(p("T"), p("W"), p("M"), p("A"))
    if kind == "fratio":
        dims = [d.get(_D + "name") for d in t.iter(_D + "fcs-dimension")]
        if len(dims) != 2 or not all(dims):
            raise _Unsupported(f"fratio {tid!r} needs two fcs-dimension names")
        return _RatioSpec(tid, str(dims[0]), str(dims[1]), p("A"), p("B"), p("C"))
    raise _Unsupported(f"transformation {tid!r}: unknown transform {kind!r}")


def _parse_matrix(el: Element) -> SpilloverMatrix:
    mid = _req(el, "id", _T, "spectrumMatrix")

    def names(tag: str) -> list[str]:
        box = el.find(_T + tag)
        if box is None:
            raise _Unsupported(f"spectrumMatrix {mid!r}: missing {tag}")
        out = [d.get(_D + "name") or "" for d in box.iter(_D + "fcs-dimension")]
        if not all(out):
            raise _Unsupported(f"spectrumMatrix {mid!r}: unnamed {tag[:-1]}")
        return out

    fluors, dets = names("fluorochromes"), names("detectors")
    rows = []
    for spec in el.iter(_T + "spectrum"):
        rows.append([_float_attr(c, "value", _T, f"spectrumMatrix {mid!r}")
                     for c in spec.iter(_T + "coefficient")])
    inverted = (el.get(_T + "matrix-inverted-already") or "false").strip().lower() == "true"
    return SpilloverMatrix(
        tuple(dets), np.array(rows, dtype=np.float64), tuple(fluors), id=mid, inverted=inverted
    )


class _Builder:
    """Turns parsed elements into wired gate objects, resolving ids lazily."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.transforms: dict[str, Transform] = {}
        self.ratios: dict[str, _RatioSpec] = {}
        self.matrices: dict[str, SpilloverMatrix] = {}
        self.elements: dict[str, Element] = {}
        self.quadrant_owner: dict[str, str] = {}
        self.gates: dict[str, Gate] = {}
        self.quadrant_gates: dict[str, QuadrantGate] = {}
        self.unsupported: dict[str, str] = {}
        self._building: list[str] = []

    # -- dimensions ----------------------------------------------------------
    def dimension(self, el: Element, what: str) -> Dimension:
        comp = _attr(el, "compensation-ref")
        tref = _attr(el, "transformation-ref")
        transform: Transform | None = None
        if tref is not None:
            if tref not in self.transforms:
                if tref in self.ratios:
                    raise _Unsupported(f"{what}: a ratio cannot be used as a scale transform")
                raise _Unsupported(f"{what}: unknown transformation-ref {tref!r}")
            transform = self.transforms[tref]
        fcs = el.find(_D + "fcs-dimension")
        if fcs is not None:
            name = fcs.get(_D + "name")
            if not name:
                raise _Unsupported(f"{what}: fcs-dimension without a name")
            return Dimension(name, transform, comp)
        new = el.find(_D + "new-dimension")
        if new is not None:
            rref = new.get(_D + "transformation-ref")
            if rref is None or rref not in self.ratios:
                raise _Unsupported(f"{what}: new-dimension refers to unknown ratio {rref!r}")
            r = self.ratios[rref]
            return RatioDimension(
                r.id, transform, comp, numerator=r.numerator, denominator=r.denominator,
                a=r.a, b=r.b, c=r.c,
            )
        raise _Unsupported(f"{what}: dimension has neither fcs-dimension nor new-dimension")

    # -- gates ---------------------------------------------------------------
    def build(self, gid: str) -> Gate:
        if gid in self.gates:
            return self.gates[gid]
        if gid in self.unsupported:
            raise _Unsupported(f"depends on unsupported gate {gid!r}")
        if gid in self._building:
            raise _Unsupported(f"cyclic gate references: {' -> '.join([*self._building, gid])}")
        if gid in self.quadrant_owner:
            owner = self.quadrant_owner[gid]
            self.build_quadrant_gate(owner)
            return self.gates[gid]
        el = self.elements.get(gid)
        if el is None:
            raise _Unsupported(f"refers to undefined gate {gid!r}")
        self._building.append(gid)
        try:
            parent_id = _attr(el, "parent_id")
            parent = self.build(parent_id) if parent_id else None
            gate = self.make(el, gid, parent)
        finally:
            self._building.pop()
        self.gates[gid] = gate
        return gate

    def make(self, el: Element, gid: str, parent: Gate | None) -> Gate:
        tag = el.tag[len(_G) :] if isinstance(el.tag, str) else ""
        dims_el = el.findall(_G + "dimension")
        what = f"gate {gid!r}"
        if tag == "RectangleGate":
            dims = [self.dimension(d, what) for d in dims_el]
            bounds = []
            for d in dims_el:
                lo, hi = _attr(d, "min"), _attr(d, "max")
                bounds.append((None if lo is None else float(lo),
                               None if hi is None else float(hi)))
            return RectangleGate(dims, bounds, id=gid, parent=parent)
        if tag == "PolygonGate":
            if len(dims_el) != 2:
                raise _Unsupported(f"{what}: polygon needs exactly 2 dimensions")
            dims = [self.dimension(d, what) for d in dims_el]
            verts = [
                [_float_attr(c, "value", _D, what) for c in v.findall(_G + "coordinate")]
                for v in el.findall(_G + "vertex")
            ]
            return PolygonGate(dims[0], dims[1], verts, id=gid, parent=parent)
        if tag == "EllipsoidGate":
            dims = [self.dimension(d, what) for d in dims_el]
            mean_el = el.find(_G + "mean")
            cov_el = el.find(_G + "covarianceMatrix")
            ds_el = el.find(_G + "distanceSquare")
            if mean_el is None or cov_el is None or ds_el is None:
                raise _Unsupported(
                    f"{what}: ellipsoid needs mean, covarianceMatrix, distanceSquare"
                )
            mean = [_float_attr(c, "value", _D, what) for c in mean_el.findall(_G + "coordinate")]
            cov = [
                [_float_attr(e, "value", _D, what) for e in row.findall(_G + "entry")]
                for row in cov_el.findall(_G + "row")
            ]
            ds = _float_attr(ds_el, "value", _D, what)
            return EllipsoidGate(dims, mean, cov, ds, id=gid, parent=parent)
        if tag == "BooleanGate":
            ops = [c for c in el if isinstance(c.tag, str) and c.tag in
                   (_G + "and", _G + "or", _G + "not")]
            if len(ops) != 1:
                raise _Unsupported(f"{what}: boolean gate needs one and/or/not element")
            op_el = ops[0]
            operands = []
            for ref in op_el.findall(_G + "gateReference"):
                rid = _attr(ref, "ref")
                if not rid:
                    raise _Unsupported(f"{what}: gateReference without ref")
                comp = (_attr(ref, "use-as-complement") or "false").strip().lower() == "true"
                operands.append(GateOperand(self.build(rid), comp))
            op = op_el.tag[len(_G) :]
            return BooleanGate(op, operands, id=gid, parent=parent)  # type: ignore[arg-type]
        raise _Unsupported(f"{what}: unsupported gate type {tag!r}")

    def build_quadrant_gate(self, qgid: str) -> QuadrantGate:
        if qgid in self.quadrant_gates:
            return self.quadrant_gates[qgid]
        el = self.elements[qgid]
        what = f"quadrant gate {qgid!r}"
        parent_id = _attr(el, "parent_id")
        self._building.append(qgid)
        try:
            parent = self.build(parent_id) if parent_id else None
        finally:
            self._building.pop()
        dividers = []
        for d in el.findall(_G + "divider"):
            did = _attr(d, "id")
            if not did:
                raise _Unsupported(f"{what}: divider without id")
            values = []
            for v in d.findall(_G + "value"):
                try:
                    values.append(float((v.text or "").strip()))
                except ValueError:
                    raise _Unsupported(f"{what}: divider {did!r} value {v.text!r}") from None
            dividers.append(Divider(did, self.dimension(d, what), tuple(sorted(values))))
        by_id = {d.id: d for d in dividers}
        quads: dict[str, dict[str, int]] = {}
        for q in el.findall(_G + "Quadrant"):
            qid = _attr(q, "id") or ""
            pos: dict[str, int] = {}
            for p in q.findall(_G + "position"):
                dref = _attr(p, "divider_ref") or ""
                if dref not in by_id:
                    raise _Unsupported(f"{what}: quadrant {qid!r} uses unknown divider {dref!r}")
                loc = _attr(p, "location")
                if loc is None:
                    raise _Unsupported(f"{what}: quadrant {qid!r} position without location")
                pos[dref] = by_id[dref].interval_of(float(loc))
            quads[qid] = pos
        qg = QuadrantGate(qgid, dividers, quads, parent=parent)
        self.quadrant_gates[qgid] = qg
        for qid, quad in qg.quadrants.items():
            self.gates[qid] = quad
        return qg


def _parse_root(root: Element, source: str) -> GatingStrategy:
    if not (isinstance(root.tag, str) and root.tag == _G + "Gating-ML"):
        raise GatingMLError(source, f"not a Gating-ML 2.0 document (root element {root.tag!r})")
    b = _Builder(source)
    # Gates may sit below non-Gating-ML wrapper elements, so search the whole tree.
    for el in root.iter():
        if not isinstance(el.tag, str):
            continue
        try:
            if el.tag == _T + "transformation":
                t = _parse_transform(el)
                if isinstance(t, _RatioSpec):
                    b.ratios[t.id] = t
                else:
                    b.transforms[_req(el, "id", _T, "transformation")] = t
            elif el.tag == _T + "spectrumMatrix":
                m = _parse_matrix(el)
                assert m.id is not None
                b.matrices[m.id] = m
        except _Unsupported as exc:
            logger.warning("%s: %s", source, exc)
        except AssaykitError as exc:  # invalid transform parameters, bad matrix
            raise GatingMLError(source, str(exc)) from exc
    for el in root.iter():
        if isinstance(el.tag, str) and el.tag in _GATE_TAGS:
            gid = _attr(el, "id")
            if not gid:
                raise GatingMLError(source, f"a {el.tag[len(_G):]} has no gating:id")
            if gid in b.elements or gid in b.quadrant_owner:
                raise GatingMLError(source, f"gate id {gid!r} is defined twice")
            b.elements[gid] = el
            if el.tag == _G + "QuadrantGate":
                for q in el.findall(_G + "Quadrant"):
                    qid = _attr(q, "id")
                    if not qid:
                        raise GatingMLError(
                            source, f"quadrant gate {gid!r} has a quadrant without id"
                        )
                    b.quadrant_owner[qid] = gid
    for gid, el in b.elements.items():
        try:
            if el.tag == _G + "QuadrantGate":
                b.build_quadrant_gate(gid)
            else:
                b.build(gid)
        except _Unsupported as exc:
            b.unsupported[gid] = str(exc)
            if el.tag == _G + "QuadrantGate":
                for q in el.findall(_G + "Quadrant"):
                    b.unsupported[_attr(q, "id") or ""] = str(exc)
            logger.warning("%s: gate %s unsupported: %s", source, gid, exc)
        except AssaykitError as exc:
            raise GatingMLError(source, f"gate {gid!r}: {exc}") from exc
    # A gate built before a dependency failed may still be present; drop dependents.
    for gid in list(b.gates):
        g = b.gates[gid]
        if any(a.id in b.unsupported for a in g.ancestors()):
            b.unsupported[gid] = "an ancestor gate is unsupported"
            del b.gates[gid]
    return GatingStrategy(
        gates=b.gates,
        quadrant_gates=b.quadrant_gates,
        transforms=b.transforms,
        matrices=b.matrices,
        unsupported=b.unsupported,
        source=source,
    )


def parse_gatingml(text: str | bytes, source: str = "<string>") -> GatingStrategy:
    """Parse a Gating-ML 2.0 document from a string (DTDs/entities refused)."""
    try:
        root = SafeET.fromstring(text, forbid_dtd=True, forbid_entities=True,
                                 forbid_external=True)
    except defusedxml.DefusedXmlException as exc:
        raise GatingMLError(
            source,
            f"refused unsafe XML ({type(exc).__name__}): Gating-ML files must not declare "
            "a DTD, entities or external references",
        ) from exc
    except ParseError as exc:
        raise GatingMLError(source, f"malformed XML: {exc}") from exc
    return _parse_root(root, source)


def read_gatingml(path: str | Path) -> GatingStrategy:
    """Read a Gating-ML 2.0 file. See :func:`parse_gatingml`."""
    p = Path(path)
    try:
        data = p.read_bytes()
    except OSError as exc:
        raise GatingMLError(p, f"cannot read file: {exc.strerror or exc}") from exc
    return parse_gatingml(data, source=str(p))

