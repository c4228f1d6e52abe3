"""Model artifacts (``.elm``): network + compiled rules + hyperparameters + app settings, as the
integers that get deployed, with a format version, checksums and a JSON manifest.

The same bytes are loaded in-process (:func:`load`) and sent over the serial link to the
firmware, whose C loader reads the binary payload and skips the manifest. Layout (little-endian;
``docs/artifact.md`` has the full table):

======  ======  ==========================================================================
offset  size    field
======  ======  ==========================================================================
0       8       magic ``89 45 4C 4D 0D 0A 1A 0A`` (``\\x89ELM\\r\\n\\x1a\\n``)
8       2       format version (:data:`FORMAT_VERSION`)
10      2       flags (0)
12      4       manifest length M
16      4       payload length P
20      4       CRC-32 (ISO-HDLC, as zlib) of manifest + payload
24      4       CRC-32 of bytes 0..23
28      4       reserved (0)
32      M       manifest: UTF-8 JSON object
32+M    P       payload: sections ``u16 type, u16 0, u32 length, data, zero padding to 4``
======  ======  ==========================================================================

Sections: 1 = network (required), 2 = input map, 3 = readout, each at most once. Loading refuses
a wrong magic, an unknown version, a truncated file, a bad checksum, a nonzero reserved field or
a malformed section with an :class:`ArtifactError` naming the file, the byte offset and the
problem: every check of the C loader (``csrc/el_artifact.c``) is made here too. Writing
(:func:`to_bytes`, :func:`save`) first checks what loading would refuse (:func:`check`).
"""

from __future__ import annotations

import dataclasses
import json
import struct
import zlib
from pathlib import Path
from typing import Any

import numpy as np

from . import constants as C
from ._version import __version__
from .network import INPUT, Connection, Network, Population, _check_int
from .rule import decode as decode_rule

MAGIC = b"\x89ELM\r\n\x1a\n"
FORMAT_VERSION = 1
HEADER = struct.Struct("<8sHHIIIII")
SEC_NETWORK, SEC_INPUT_MAP, SEC_READOUT = 1, 2, 3
SRC_INPUT = 0xFFFF
FLAG_MIXED, FLAG_SPARSE, FLAG_PLASTIC = 1, 2, 4
FLAGS_KNOWN = FLAG_MIXED | FLAG_SPARSE | FLAG_PLASTIC
SECTION_NAMES = {SEC_NETWORK: "network", SEC_INPUT_MAP: "input map", SEC_READOUT: "readout"}
MAX_BYTES = 64 << 20  #: :func:`load` refuses a larger file, so :func:`save` refuses to write one
MAX_SHIFT = 15  #: input map ``shift`` range 0 .. 15
U16_MAX, U32_MAX = 0xFFFF, 0xFFFFFFFF


class ArtifactError(ValueError):
    """A file that is not a loadable artifact: names the file, the byte offset, the problem."""

    def __init__(self, msg: str, *, offset: int | None = None, path: str | None = None):
        where = f"{path}: " if path else ""
        where += f"at byte {offset}: " if offset is not None else ""
        super().__init__(where + msg)
        self.offset, self.path = offset, path


@dataclasses.dataclass(frozen=True)
class InputMap:
    """How address events become input axons (``docs/artifact.md``):

    ``axon = (p' * height + y') * width + x'`` with ``x' = (x - x0) >> shift``,
    ``y' = (y - y0) >> shift``, ``p' = p`` if ``polarities == 2`` else 0; events outside the
    ``width x height`` window (after the shift) are dropped. One timestep lasts ``dt_us``.
    """

    width: int
    height: int
    polarities: int = 2
    shift: int = 0
    x0: int = 0
    y0: int = 0
    dt_us: int = 1000

    @property
    def n_axons(self) -> int:
        return self.width * self.height * self.polarities

    def fitted(self, sensor_width: int, sensor_height: int) -> InputMap:
        """This map re-scaled (the smallest power-of-two ``shift``) and centred (``x0``,
        ``y0``) so that a ``sensor_width x sensor_height`` sensor covers its grid; ``self``
        where that is what it already does. The axons and the network are unchanged: a model
        trained on one sensor size meets another (a 128 x 128 camera on a 34 x 34 model)
        instead of losing the events outside the window."""
        shift = 0
        while (sensor_width >> shift) > self.width or (sensor_height >> shift) > self.height:
            shift += 1
        used_w, used_h = sensor_width >> shift, sensor_height >> shift
        x0 = max(0, (sensor_width - (used_w << shift)) // 2)
        y0 = max(0, (sensor_height - (used_h << shift)) // 2)
        if (shift, x0, y0) == (self.shift, self.x0, self.y0):
            return self
        return dataclasses.replace(self, shift=shift, x0=x0, y0=y0)

    def address_map(self, sensor_width: int, sensor_height: int):
        """This map as an :class:`edgelearn.events.AddressMap` over a sensor's pixels, for
        :func:`edgelearn.events.bin_events` (the one binning implementation)."""
        from .events import AddressMap

        ys, xs = np.mgrid[0:sensor_height, 0:sensor_width]
        qx, qy = (xs - self.x0) >> self.shift, (ys - self.y0) >> self.shift
        ok = (xs >= self.x0) & (ys >= self.y0) & (qx < self.width) & (qy < self.height)
        base = np.where(ok, qy * self.width + qx, -1)
        if self.polarities == 2:
            on = np.where(ok, base + self.width * self.height, -1)
            table = np.stack([base, on])
        else:
            table = np.stack([base, base])
        return AddressMap(table.astype(np.int32), self.n_axons)


@dataclasses.dataclass(frozen=True)
class Readout:
    """The class readout: population ``population`` (by index), one neuron per class; during
    learning the labelled class's neuron gets third factor ``r_pos`` and the others ``r_neg``;
    a sample lasts ``steps`` timesteps; the prediction is the neuron with the most spikes (ties
    to the lowest index)."""

    population: int
    r_pos: int = 64
    r_neg: int = 0
    steps: int = 100


@dataclasses.dataclass(frozen=True)
class Artifact:
    network: Network
    input_map: InputMap | None = None
    readout: Readout | None = None
    manifest: dict[str, Any] = dataclasses.field(default_factory=dict)


# --------------------------------------------------------------------------- writing


def _section(kind: int, data: bytes) -> bytes:
    pad = (-len(data)) % 4
    return struct.pack("<HHI", kind, 0, len(data)) + data + b"\0" * pad


def _network_bytes(net: Network) -> bytes:
    out = bytearray(struct.pack("<IIHH", net.n_inputs, net.seed, len(net.populations),
                                len(net.connections)))
    for p in net.populations:
        third = 0 if p.third_from is None else net.index(p.third_from) + 1
        out += struct.pack("<IHHIBBBB", p.size, p.du, p.dv, p.vth_mant, p.bias_exp,
                           p.refractory, third, p.third_shift)
        out += np.asarray(p.bias_mant, "<i2").tobytes()
        out += b"\0" * ((-len(out)) % 4)
    for c in net.connections:
        src = SRC_INPUT if c.src == INPUT else net.index(c.src)
        flags = (FLAG_MIXED if c.mixed else 0) | (FLAG_SPARSE if c.sparse else 0) | (
            FLAG_PLASTIC if c.plastic else 0)
        nnz = int(c.indptr[-1]) if c.sparse else 0
        code = c.rule.microcode() if c.plastic else b""
        out += struct.pack("<HHbBHII", src, net.index(c.dst), c.w_exp, flags, 0, nnz, len(code))
        if c.sparse:
            out += np.asarray(c.indptr, "<u4").tobytes() + np.asarray(c.indices, "<u4").tobytes()
        out += np.asarray(c.weights, np.int8).tobytes() + code
        out += b"\0" * ((-len(out)) % 4)
    return bytes(out)


def check(art: Artifact) -> None:
    """Refuse, before anything is encoded, an artifact that :func:`load` would refuse (or that
    the format cannot hold): ``ValueError`` (``TypeError`` for a non-integer) naming the field,
    its value and the allowed range. The network is checked when it is built (:class:`Network`).

    Input map: ``width``, ``height``, ``x0``, ``y0`` u16 (``width, height >= 1``),
    ``polarities`` 1 or 2, ``shift`` 0 .. :data:`MAX_SHIFT`, ``dt_us`` 1 .. 2^32 - 1, and
    ``width * height * polarities == network.n_inputs``. Readout: ``population`` an index of
    ``network.populations``, ``r_pos`` and ``r_neg`` i8, ``steps`` u32.
    """
    net = art.network
    if not isinstance(net, Network):
        raise TypeError(f"artifact.network must be an edgelearn.Network, got {type(net).__name__}")
    m = art.input_map
    if m is not None:
        if not isinstance(m, InputMap):
            raise TypeError(f"artifact.input_map must be an InputMap, got {type(m).__name__}")
        for field, lo, hi in (("width", 1, U16_MAX), ("height", 1, U16_MAX),
                              ("polarities", 1, 2), ("shift", 0, MAX_SHIFT), ("x0", 0, U16_MAX),
                              ("y0", 0, U16_MAX), ("dt_us", 1, U32_MAX)):
            _check_int(f"input_map.{field}", getattr(m, field), lo, hi)
        if m.n_axons != net.n_inputs:
            raise ValueError(f"input_map gives width * height * polarities = {m.width} * "
                             f"{m.height} * {m.polarities} = {m.n_axons} axons, but the network "
                             f"has n_inputs = {net.n_inputs}")
    r = art.readout
    if r is not None:
        if not isinstance(r, Readout):
            raise TypeError(f"artifact.readout must be a Readout, got {type(r).__name__}")
        for field, lo, hi in (("population", 0, len(net.populations) - 1),
                              ("r_pos", C.THIRD_MIN, C.THIRD_MAX),
                              ("r_neg", C.THIRD_MIN, C.THIRD_MAX), ("steps", 0, U32_MAX)):
            _check_int(f"readout.{field}", getattr(r, field), lo, hi)


def check_label_readout(art: Artifact) -> None:
    """Refuse (``ValueError``) a readout that labels cannot teach: one whose population
    computes its third factor from designated neurons (docs/spec.md 5.3), so that ``r_pos`` /
    ``r_neg`` can never be written (the device answers LABEL with ERR_STATE). Such a model
    takes its labels as input spikes; the one-shot learners and meta-training write labels."""
    pop = art.network.populations[art.readout.population]
    if pop.third_from is not None:
        raise ValueError(f"the readout population {pop.name!r} computes its third factor from "
                         f"{pop.third_from!r} (docs/spec.md 5.3): labels cannot be written to "
                         f"it; such a model learns from label spikes on its input")


def to_bytes(art: Artifact) -> bytes:
    """The file's bytes. Raises ``ValueError``/``TypeError`` (see :func:`check`) for an
    artifact that :func:`from_bytes` would refuse."""
    check(art)
    payload = _section(SEC_NETWORK, _network_bytes(art.network))
    if art.input_map is not None:
        m = art.input_map
        payload += _section(SEC_INPUT_MAP, struct.pack("<HHBBHHHI", m.width, m.height,
                                                       m.polarities, m.shift, m.x0, m.y0, 0,
                                                       m.dt_us))
    if art.readout is not None:
        r = art.readout
        payload += _section(SEC_READOUT, struct.pack("<HbbI", r.population, r.r_pos, r.r_neg,
                                                     r.steps))
    manifest = dict(art.manifest)
    manifest.setdefault("edgelearn_version", __version__)
    manifest["format_version"] = FORMAT_VERSION
    manifest["network"] = describe(art.network)
    if art.input_map is not None:
        manifest["input_map"] = dataclasses.asdict(art.input_map)
    if art.readout is not None:
        manifest["readout"] = dataclasses.asdict(art.readout)
    mbytes = json.dumps(manifest, indent=1, sort_keys=True, default=_json_default).encode()
    crc = zlib.crc32(mbytes + payload)
    head = HEADER.pack(MAGIC, FORMAT_VERSION, 0, len(mbytes), len(payload), crc, 0, 0)
    head = head[:24] + struct.pack("<I", zlib.crc32(head[:24])) + head[28:]
    return head + mbytes + payload


def _json_default(o: Any) -> Any:
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


def describe(net: Network) -> dict[str, Any]:
    """A JSON-able summary of a network (for manifests and ``edgelearn inspect``)."""
    return {
        "n_inputs": net.n_inputs, "seed": net.seed, "n_neurons": net.n_neurons,
        "populations": [{"name": p.name, "size": p.size, "du": p.du, "dv": p.dv,
                         "vth_mant": p.vth_mant, "bias_exp": p.bias_exp,
                         "refractory": p.refractory,
                         **({} if p.third_from is None else
                            {"third_from": p.third_from, "third_shift": p.third_shift})}
                        for p in net.populations],
        "connections": [{"src": c.src, "dst": c.dst, "kind": c.kind, "w_exp": c.w_exp,
                         "mixed": c.mixed, "synapses": int(c.weights.size),
                         "rule": c.rule.text() if c.plastic else None,
                         "rule_hyper": dataclasses.asdict(c.rule.hyper()) if c.plastic
                         else None} for c in net.connections],
    }


def save(path: str | Path, art: Artifact) -> bytes:
    """Write an artifact atomically (temporary file, then rename); returns its bytes.

    Everything is checked before any byte is written (:func:`check`, and the
    :data:`MAX_BYTES` limit of :func:`load`): what ``save`` writes, ``load`` reads. On any
    failure no file is left behind (an existing ``path`` is untouched)."""
    data = to_bytes(art)
    if len(data) > MAX_BYTES:
        raise ValueError(f"the artifact is {len(data)} bytes, larger than the {MAX_BYTES}-byte "
                         "limit that load() reads")
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    try:
        tmp.write_bytes(data)
        tmp.replace(path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return data


# --------------------------------------------------------------------------- reading


class _Reader:
    def __init__(self, buf: bytes, base: int, end: int, path: str | None):
        self.buf, self.base, self.pos, self.end, self.path = buf, base, base, end, path

    def take(self, fmt: str, what: str):
        n = struct.calcsize(fmt)
        if self.pos + n > self.end:
            raise ArtifactError(f"truncated {what}: needs {n} bytes, {self.end - self.pos} left",
                                offset=self.pos, path=self.path)
        vals = struct.unpack_from(fmt, self.buf, self.pos)
        self.pos += n
        return vals

    def array(self, dtype: str, count: int, what: str) -> np.ndarray:
        n = np.dtype(dtype).itemsize * count
        if count < 0 or self.pos + n > self.end:
            raise ArtifactError(f"truncated {what}: needs {n} bytes, {self.end - self.pos} left",
                                offset=self.pos, path=self.path)
        a = np.frombuffer(self.buf, dtype, count, self.pos).copy()
        self.pos += n
        return a

    def align(self) -> None:
        """Skip the zero padding to the next multiple of 4 from the start of this region."""
        self.pos += (-(self.pos - self.base)) % 4


def _read_network(r: _Reader, names: list[str] | None) -> Network:
    """Section 1, with every check of ``parse_network`` in ``csrc/el_artifact.c`` (which
    answers ``EL_ART_E_NETWORK`` or ``EL_ART_E_TRUNCATED``); the field ranges are then checked
    by :class:`Population`, :class:`Connection` and :class:`Network`, as ``el_core_bytes`` does
    on the device."""
    base = r.pos
    n_inputs, seed, n_pops, n_conns = r.take("<IIHH", "network header")
    if not 1 <= n_pops <= C.MAX_POPULATIONS or n_conns > C.MAX_CONNECTIONS:
        raise ArtifactError(f"network has {n_pops} populations and {n_conns} connections "
                            f"(limits 1 .. {C.MAX_POPULATIONS}, 0 .. {C.MAX_CONNECTIONS})",
                            offset=base + 8, path=r.path)
    if n_inputs > C.MAX_FANIN:
        raise ArtifactError(f"network has {n_inputs} inputs (limit {C.MAX_FANIN})", offset=base,
                            path=r.path)
    raw = []
    for k in range(n_pops):
        at = r.pos
        size, du, dv, vth, bexp, refr, third, shift = r.take("<IHHIBBBB", f"population {k}")
        if not 1 <= size <= C.MAX_NEURONS:
            raise ArtifactError(f"population {k} has size {size} (limits 1 .. {C.MAX_NEURONS})",
                                offset=at, path=r.path)
        if third > n_pops:
            raise ArtifactError(f"population {k}: third factor from population {third - 1}, "
                                f"but the network has {n_pops}", offset=at + 14, path=r.path)
        bias = r.array("<i2", size, f"population {k} biases")
        r.align()
        raw.append((at, size, du, dv, vth, bias, bexp, refr, third, shift))
    if not (names is not None and len(names) == n_pops and len(set(names)) == len(names) and all(
            isinstance(n, str) and n and n != INPUT for n in names)):
        names = [f"pop{k}" for k in range(n_pops)]
    pops = []
    for k, (at, size, du, dv, vth, bias, bexp, refr, third, shift) in enumerate(raw):
        if third and raw[third - 1][1] != size:  # el_core_bytes refuses it (EL_ERR_RANGE)
            raise ArtifactError(f"population {k}: third factor from population {third - 1}, "
                                f"which has {raw[third - 1][1]} neurons, not {size}",
                                offset=at + 14, path=r.path)
        try:
            pops.append(Population(names[k], size, du=du, dv=dv, vth_mant=vth, bias_mant=bias,
                                   bias_exp=bexp, refractory=refr,
                                   third_from=names[third - 1] if third else None,
                                   third_shift=shift))
        except (ValueError, TypeError) as e:
            raise ArtifactError(f"population {k}: {e}", offset=at, path=r.path) from None
    sizes = [p.size for p in pops]
    conns = []
    for k in range(n_conns):
        at = r.pos
        src, dst, w_exp, flags, reserved, nnz, code_len = r.take("<HHbBHII", f"connection {k}")
        if reserved != 0:
            raise ArtifactError(f"connection {k}: reserved field is {reserved:#06x}, must be 0",
                                offset=at + 6, path=r.path)
        if dst >= n_pops or (src != SRC_INPUT and src >= n_pops):
            raise ArtifactError(f"connection {k}: source {src} or destination {dst} unknown",
                                offset=at, path=r.path)
        if flags & ~FLAGS_KNOWN:
            raise ArtifactError(f"connection {k}: unknown flag bits {flags & ~FLAGS_KNOWN:#04x} "
                                f"(flags {flags:#04x}; known: 1 mixed, 2 sparse, 4 plastic)",
                                offset=at + 5, path=r.path)
        if not flags & FLAG_SPARSE and nnz != 0:
            raise ArtifactError(f"connection {k}: nnz is {nnz} on a dense connection, must be 0",
                                offset=at + 8, path=r.path)
        if not flags & FLAG_PLASTIC and code_len != 0:
            raise ArtifactError(f"connection {k}: rule length is {code_len} on a connection that "
                                "is not plastic, must be 0", offset=at + 12, path=r.path)
        n_src = n_inputs if src == SRC_INPUT else sizes[src]
        n_dst = sizes[dst]
        indptr = indices = None
        if flags & FLAG_SPARSE:
            if nnz > n_src * n_dst:
                raise ArtifactError(f"connection {k}: nnz {nnz} exceeds {n_dst} x {n_src} "
                                    "synapses", offset=at + 8, path=r.path)
            ip_at = r.pos
            indptr = r.array("<u4", n_dst + 1, f"connection {k} indptr")
            indices = r.array("<u4", nnz, f"connection {k} indices")
            if indptr[0] != 0 or indptr[-1] != nnz:
                raise ArtifactError(f"connection {k}: indptr runs from {indptr[0]} to "
                                    f"{indptr[-1]}, must run from 0 to nnz = {nnz}",
                                    offset=ip_at, path=r.path)
            w = r.array("i1", nnz, f"connection {k} weights")
        else:
            if n_src * n_dst > U32_MAX:
                raise ArtifactError(f"connection {k}: {n_dst} x {n_src} dense weights exceed "
                                    f"{U32_MAX}", offset=at, path=r.path)
            w = r.array("i1", n_dst * n_src, f"connection {k} weights").reshape(n_dst, n_src)
        rule = None
        if flags & FLAG_PLASTIC:
            code = r.array("u1", code_len, f"connection {k} rule").tobytes()
            try:
                rule = decode_rule(code)
            except ValueError as e:
                raise ArtifactError(f"connection {k}: {e}", offset=at, path=r.path) from None
        r.align()
        try:
            conns.append(Connection(
                INPUT if src == SRC_INPUT else names[src], names[dst], w, w_exp,
                bool(flags & FLAG_MIXED), indptr=indptr, indices=indices, rule=rule))
        except (ValueError, TypeError) as e:
            raise ArtifactError(f"connection {k}: {e}", offset=at, path=r.path) from None
    try:
        return Network(n_inputs, tuple(pops), tuple(conns), seed=seed)
    except (ValueError, TypeError) as e:
        raise ArtifactError(f"network: {e}", offset=base, path=r.path) from None


def from_bytes(data: bytes, *, path: str | None = None) -> Artifact:
    """Parse and verify an artifact. Raises :class:`ArtifactError` on any problem.

    Every check of the C loader (``el_artifact_parse``, ``csrc/el_artifact.c``) is made here
    too, so a file loads in process exactly when it loads on the device."""
    data = bytes(data)
    if len(data) < HEADER.size:
        raise ArtifactError(f"truncated: {len(data)} bytes, a header needs {HEADER.size}",
                            offset=len(data), path=path)
    magic, version, flags, mlen, plen, crc, hcrc, reserved = HEADER.unpack_from(data)
    if magic != MAGIC:
        raise ArtifactError(f"not an edgelearn artifact (magic {magic!r})", offset=0, path=path)
    if zlib.crc32(data[:24]) != hcrc:
        raise ArtifactError("header checksum mismatch (corrupt header)", offset=24, path=path)
    # The C loader refuses these with EL_ART_E_HEADER_CRC; refuse them here too, so a file is
    # loadable in process exactly when it is loadable on the device.
    if flags != 0:
        raise ArtifactError(f"header flags are {flags:#06x}, format version {FORMAT_VERSION} "
                            "defines none (must be 0)", offset=10, path=path)
    if reserved != 0:
        raise ArtifactError(f"reserved header bytes 28..31 are {reserved:#010x}, must be 0",
                            offset=28, path=path)
    if version != FORMAT_VERSION:
        raise ArtifactError(f"format version {version} is not supported (this edgelearn "
                            f"{__version__} reads version {FORMAT_VERSION})", offset=8, path=path)
    end = HEADER.size + mlen + plen
    if len(data) < end:
        raise ArtifactError(f"truncated: header announces {end} bytes, file has {len(data)}",
                            offset=len(data), path=path)
    if len(data) > end:
        raise ArtifactError(f"{len(data) - end} unexpected bytes after the payload", offset=end,
                            path=path)
    if zlib.crc32(data[HEADER.size:end]) != crc:
        raise ArtifactError("checksum mismatch: the manifest or payload is corrupt",
                            offset=HEADER.size, path=path)
    try:
        manifest = json.loads(data[HEADER.size:HEADER.size + mlen].decode())
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ArtifactError(f"manifest is not JSON ({e})", offset=HEADER.size, path=path) from None
    r = _Reader(data, HEADER.size + mlen, end, path)
    network = input_map = readout = None
    seen: dict[int, int] = {}  # section type -> offset of its header
    while r.pos < end:
        at = r.pos
        kind, sec_reserved, length = r.take("<HHI", "section header")
        if sec_reserved != 0:
            raise ArtifactError(f"section {kind}: reserved field is {sec_reserved:#06x}, must "
                                "be 0", offset=at + 2, path=path)
        body_end = r.pos + length
        if body_end > end:
            raise ArtifactError(f"section {kind} runs past the payload", offset=at, path=path)
        if kind not in SECTION_NAMES:
            raise ArtifactError(f"unknown section type {kind}", offset=at, path=path)
        if kind in seen:
            raise ArtifactError(f"repeated {SECTION_NAMES[kind]} section (type {kind}; the "
                                f"first is at byte {seen[kind]}): each may appear once",
                                offset=at, path=path)
        seen[kind] = at
        sub = _Reader(data, r.pos, body_end, path)
        if kind == SEC_NETWORK:
            pops_meta = manifest.get("network", {}).get("populations") if isinstance(
                manifest, dict) and isinstance(manifest.get("network"), dict) else None
            names = [p.get("name") for p in pops_meta if isinstance(p, dict)] if isinstance(
                pops_meta, list) else None
            network = _read_network(sub, names)
        elif kind == SEC_INPUT_MAP:
            body = sub.pos
            w, h, pol, shift, x0, y0, map_reserved, dt = sub.take("<HHBBHHHI", "input map")
            for ok, field, value, rel in ((w >= 1, "width", w, 0), (h >= 1, "height", h, 2),
                                          (pol in (1, 2), "polarities", pol, 4),
                                          (shift <= MAX_SHIFT, "shift", shift, 5),
                                          (map_reserved == 0, "reserved field", map_reserved, 10),
                                          (dt >= 1, "dt_us", dt, 12)):
                if not ok:
                    raise ArtifactError(f"input map {field} is {value}, out of range (width, "
                                        f"height, dt_us >= 1, polarities 1 or 2, shift 0 .. "
                                        f"{MAX_SHIFT}, reserved 0)", offset=body + rel,
                                        path=path)
            input_map = InputMap(w, h, pol, shift, x0, y0, dt)
        else:
            pop, rp, rn, steps = sub.take("<HbbI", "readout")
            readout = Readout(pop, rp, rn, steps)
        r.pos = body_end
        r.align()
    if network is None:
        raise ArtifactError("no network section", path=path)
    if readout is not None and readout.population >= len(network.populations):
        raise ArtifactError(f"readout population {readout.population} does not exist (the "
                            f"network has {len(network.populations)})",
                            offset=seen[SEC_READOUT] + 8, path=path)
    if input_map is not None and input_map.n_axons != network.n_inputs:
        raise ArtifactError(f"input map gives {input_map.n_axons} axons but the network has "
                            f"{network.n_inputs} inputs", offset=seen[SEC_INPUT_MAP] + 8,
                            path=path)
    return Artifact(network, input_map, readout, manifest)


def load(path: str | Path) -> Artifact:
    path = Path(path)
    size = path.stat().st_size
    if size > MAX_BYTES:
        raise ArtifactError(f"{size} bytes is larger than the {MAX_BYTES}-byte limit",
                            path=str(path))
    return from_bytes(path.read_bytes(), path=str(path))
