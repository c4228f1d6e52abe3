"""Artifacts: lossless round trip, and every corruption refused with a clear error."""

import struct
import zlib

import numpy as np
import pytest

from edgelearn import INPUT, Connection, Network, Population, artifact, rule
from edgelearn.cli import main
from edgelearn.network import layer


def sample() -> artifact.Artifact:
    rng = np.random.default_rng(0)
    pops = (Population("hidden", 6, du=100, dv=200, vth_mant=40, bias_mant=rng.integers(-9, 9, 6),
                       third_from="hidden", third_shift=5),
            Population("out", 3, du=4095, dv=10, vth_mant=7, refractory=3))
    keep = rng.random((6, 6)) < 0.4
    conns = (Connection(INPUT, "hidden", rng.integers(-128, 128, (6, 8)), w_exp=-2),
             Connection("hidden", "hidden", rng.integers(-50, 50, keep.sum()),
                        indptr=np.concatenate([[0], np.cumsum(keep.sum(1))]),
                        indices=np.nonzero(keep)[1]),
             Connection("hidden", "out", rng.integers(0, 20, (3, 6)), w_exp=3,
                        rule=rule.shipped("error_triggered")))
    net = Network(8, pops, conns, seed=1234)
    return artifact.Artifact(net, artifact.InputMap(2, 2, 2, shift=4), artifact.Readout(1),
                             {"kind": "test", "metrics": {"acc": 0.5}})


def same_network(a: Network, b: Network) -> None:
    assert (a.n_inputs, a.seed) == (b.n_inputs, b.seed)
    for p, q in zip(a.populations, b.populations, strict=True):
        assert (p.name, p.size, p.du, p.dv, p.vth_mant, p.bias_exp, p.refractory,
                p.third_from, p.third_shift) == (
            q.name, q.size, q.du, q.dv, q.vth_mant, q.bias_exp, q.refractory, q.third_from,
            q.third_shift)
        np.testing.assert_array_equal(p.bias_mant, q.bias_mant)
    for c, d in zip(a.connections, b.connections, strict=True):
        assert (c.src, c.dst, c.w_exp, c.mixed, c.kind, c.rule) == (
            d.src, d.dst, d.w_exp, d.mixed, d.kind, d.rule)
        np.testing.assert_array_equal(c.weights, d.weights)
        if c.sparse:
            np.testing.assert_array_equal(c.indptr, d.indptr)
            np.testing.assert_array_equal(c.indices, d.indices)


def test_round_trip_is_lossless(tmp_path):
    art = sample()
    data = artifact.save(tmp_path / "m.elm", art)
    back = artifact.load(tmp_path / "m.elm")
    same_network(art.network, back.network)
    assert back.input_map == art.input_map and back.readout == art.readout
    assert back.manifest["metrics"] == {"acc": 0.5}
    assert artifact.to_bytes(back) == data  # byte-stable


def test_every_truncation_and_bit_flip_is_refused():
    data = artifact.to_bytes(sample())
    for n in range(len(data)):
        with pytest.raises(artifact.ArtifactError):
            artifact.from_bytes(data[:n])
    rng = np.random.default_rng(1)
    for pos in rng.choice(len(data), 300, replace=False):
        bad = bytearray(data)
        bad[pos] ^= 1 << int(rng.integers(8))
        with pytest.raises(artifact.ArtifactError):
            artifact.from_bytes(bytes(bad))


def test_errors_name_the_problem(tmp_path):
    data = artifact.to_bytes(sample())
    with pytest.raises(artifact.ArtifactError, match="not an edgelearn artifact"):
        artifact.from_bytes(b"PK\x03\x04" + data[4:])
    bumped = bytearray(data)
    bumped[8] = 9  # version 9, header CRC fixed up so the version check is what fails
    bumped[24:28] = struct.pack("<I", zlib.crc32(bytes(bumped[:24])))
    with pytest.raises(artifact.ArtifactError, match="format version 9 is not supported"):
        artifact.from_bytes(bytes(bumped))
    with pytest.raises(artifact.ArtifactError, match="truncated"):
        artifact.from_bytes(data[:-5])


def test_inspect_cli(tmp_path, capsys):
    artifact.save(tmp_path / "m.elm", sample())
    assert main(["inspect", str(tmp_path / "m.elm")]) == 0
    out = capsys.readouterr().out
    assert "checksums ok" in out and "hidden -> out: dense" in out and "plastic" in out
    (tmp_path / "bad.elm").write_bytes(b"\x89ELM\r\n\x1a\n" + b"\0" * 10)
    assert main(["inspect", str(tmp_path / "bad.elm")]) == 2
    assert "truncated" in capsys.readouterr().err


def test_input_map_fitted_to_a_sensor():
    m = artifact.InputMap(17, 17, 2, shift=1, dt_us=5000)
    assert m.fitted(34, 34) is m  # what it was made for
    big = m.fitted(128, 128)  # 128 >> 3 = 16 columns fit 17
    assert (big.shift, big.x0, big.y0, big.width, big.dt_us) == (3, 0, 0, 17, 5000)
    odd = m.fitted(240, 180)  # 240 >> 4 = 15, 180 >> 4 = 11: centred
    assert (odd.shift, odd.x0, odd.y0) == (4, 0, 2)
    small = artifact.InputMap(17, 17, 2, shift=3).fitted(34, 34)
    assert (small.shift, small.x0, small.y0) == (1, 0, 0)
    # every pixel of the sensor lands on an axon of the grid
    table = big.address_map(128, 128).table
    assert table.min() >= 0 and table.max() < big.n_axons


# ---- the Python reader refuses exactly what the C loader refuses --------------------------------
# Each file below is a valid artifact with one field changed and both CRCs recomputed, so that
# the change itself is what a reader must catch. The C side is el_artifact_parse
# (csrc/el_artifact.c) through cffi, as the firmware runs it.


@pytest.fixture(scope="module")
def c_loader():
    """``load(blob) -> status name``: the C loader as the device runs it (el_artifact_parse,
    then el_core_bytes and el_core_init on the descriptor it returns); "EL_ART_OK" when the
    device would run the file."""
    rt = pytest.importorskip("edgelearn._el_runtime")
    ffi, lib = rt.ffi, rt.lib
    if not hasattr(lib, "el_artifact_parse"):
        pytest.skip("the compiled extension predates el_artifact (rebuild: pip install -e .)")

    def load(blob: bytes) -> str:
        (mlen,) = struct.unpack_from("<I", blob, 12)
        shift = (-(32 + mlen)) % 4  # the payload must be 4-aligned in memory, as the app does
        buf = ffi.new("uint64_t[]", (len(blob) + shift) // 8 + 2)
        raw = ffi.cast("uint8_t *", buf) + shift
        ffi.memmove(raw, blob, len(blob))
        a = ffi.new("el_artifact_t *")
        st = lib.el_artifact_parse(raw, len(blob), a)
        if st != lib.EL_ART_OK:
            return ffi.string(lib.el_artifact_status_name(st)).decode()
        desc = ffi.cast("el_core_desc_t *", a)  # desc is el_artifact_t's first member
        nbytes = ffi.new("size_t *")
        st = lib.el_core_bytes(desc, nbytes)
        if st == lib.EL_OK:
            mem = ffi.new("uint64_t[]", nbytes[0] // 8 + 1)
            st = lib.el_core_init(desc, mem, nbytes[0], ffi.new("el_core_t **"))
        return "EL_ART_OK" if st == lib.EL_OK else ffi.string(lib.el_status_name(st)).decode()

    return load


def reseal(b: bytearray) -> bytes:
    b[16:20] = struct.pack("<I", len(b) - 32 - struct.unpack_from("<I", b, 12)[0])
    b[20:24] = struct.pack("<I", zlib.crc32(bytes(b[32:])))
    b[24:28] = struct.pack("<I", zlib.crc32(bytes(b[:24])))
    return bytes(b)


def small(sparse: bool = False) -> tuple[bytes, int]:
    """4 inputs -> 2 neurons, input map 2 x 1 x 2, readout 0; and where the payload starts.

    Payload layout (offsets from its start P, worked out by hand and checked below):
    P+0 network section header; P+8 n_inputs, P+12 seed, P+16 n_pops, P+18 n_conns;
    P+20 population 0 (P+34 its third-factor source, P+35 shift), biases at P+36; P+40
    connection 0: src, dst (P+42), w_exp, flags (P+45), reserved (P+46), nnz (P+48), rule
    length (P+52), then dense
    weights at P+56 (8 bytes), or sparse indptr at P+56 (3 u32), indices at P+68, weights at
    P+80 (3 bytes, padded). Then the input map section (dense: P+64, sparse: P+84; its body
    8 bytes on, with reserved u16 at body+10) and the readout section 24 bytes after that."""
    if sparse:
        net = Network(4, (Population("layer", 2),),
                      (Connection(INPUT, "layer", np.array([1, 2, 3]), indptr=np.array([0, 2, 3]),
                                  indices=np.array([0, 3, 1])),))
    else:
        net = layer(4, 2, w=np.ones((2, 4)))
    data = artifact.to_bytes(artifact.Artifact(net, artifact.InputMap(2, 1, 2),
                                               artifact.Readout(0)))
    p = 32 + struct.unpack_from("<I", data, 12)[0]
    net_len = 76 if sparse else 56
    assert struct.unpack_from("<HHI", data, p) == (1, 0, net_len)
    assert struct.unpack_from("<HHI", data, p + 8 + net_len) == (2, 0, 16)
    assert struct.unpack_from("<HHI", data, p + 32 + net_len) == (3, 0, 8)
    assert len(data) == p + 48 + net_len
    return data, p


def edited(sparse: bool, *edits: tuple[int, str, int]) -> tuple[bytes, int]:
    data, p = small(sparse)
    b = bytearray(data)
    for rel, fmt, value in edits:
        struct.pack_into(fmt, b, p + rel, value)
    return reseal(b), p


def spliced(keep: list[int]) -> tuple[bytes, int]:
    """The dense file with its sections (0 network, 1 input map, 2 readout) in this order."""
    data, p = small()
    secs = [data[p:p + 64], data[p + 64:p + 88], data[p + 88:]]
    return reseal(bytearray(data[:p] + b"".join(secs[k] for k in keep))), p


#: (case, file builder, C status, offset from the payload start of the field Python names,
#: what Python's message says)
REFUSED = [
    ("section reserved", lambda: edited(False, (2, "<H", 1)), "EL_ART_E_SECTION", 2,
     "section 1: reserved field is 0x0001, must be 0"),
    ("readout section reserved", lambda: edited(False, (90, "<H", 0x100)), "EL_ART_E_SECTION", 90,
     "section 3: reserved field"),
    ("section past the payload", lambda: edited(False, (4, "<I", 1000)), "EL_ART_E_TRUNCATED", 0,
     "runs past the payload"),
    ("unknown section type", lambda: edited(False, (88, "<H", 4)), "EL_ART_E_SECTION", 88,
     "unknown section type 4"),
    ("two readouts", lambda: spliced([0, 1, 2, 2]), "EL_ART_E_SECTION", 104,
     "repeated readout section .*first is at byte"),
    ("two input maps", lambda: spliced([0, 1, 1, 2]), "EL_ART_E_SECTION", 88,
     "repeated input map section"),
    ("two networks", lambda: spliced([0, 0, 1, 2]), "EL_ART_E_SECTION", 64,
     "repeated network section"),
    ("no network", lambda: spliced([1, 2]), "EL_ART_E_NO_NETWORK", None, "no network section"),
    ("n_pops 0", lambda: edited(False, (16, "<H", 0)), "EL_ART_E_NETWORK", 16,
     "0 populations"),
    ("n_pops 65", lambda: edited(False, (16, "<H", 65)), "EL_ART_E_NETWORK", 16,
     "65 populations"),
    ("n_conns 257", lambda: edited(False, (18, "<H", 257)), "EL_ART_E_NETWORK", 16,
     "257 connections"),
    ("n_inputs over MAX_FANIN", lambda: edited(False, (8, "<I", (1 << 16) + 1)),
     "EL_ART_E_NETWORK", 8, "65537 inputs"),
    ("population size 0", lambda: edited(False, (20, "<I", 0)), "EL_ART_E_NETWORK", 20,
     "population 0 has size 0"),
    ("third factor from population 1 of 1", lambda: edited(False, (34, "<B", 2)),
     "EL_ART_E_NETWORK", 34, "population 0: third factor from population 1, but the network "
     "has 1"),
    ("third factor shift 24", lambda: edited(False, (34, "<B", 1), (35, "<B", 24)),
     "EL_ERR_RANGE", 20, "population 0: layer.third_shift = 24 is out of range"),
    ("third factor shift without a source", lambda: edited(False, (35, "<B", 3)),
     "EL_ERR_RANGE", 20, "third_shift = 3 needs third_from"),
    ("connection reserved", lambda: edited(False, (46, "<H", 0x8000)), "EL_ART_E_NETWORK", 46,
     "connection 0: reserved field is 0x8000, must be 0"),
    ("connection dst unknown", lambda: edited(False, (42, "<H", 1)), "EL_ART_E_NETWORK", 40,
     "destination 1 unknown"),
    ("connection src unknown", lambda: edited(False, (40, "<H", 1)), "EL_ART_E_NETWORK", 40,
     "source 1 .* unknown"),
    ("unknown flag 8", lambda: edited(False, (45, "<B", 8)), "EL_ART_E_NETWORK", 45,
     "unknown flag bits 0x08"),
    ("unknown flag 0x80 beside mixed", lambda: edited(False, (45, "<B", 0x81)),
     "EL_ART_E_NETWORK", 45, "unknown flag bits 0x80"),
    ("nnz on a dense connection", lambda: edited(False, (48, "<I", 1)), "EL_ART_E_NETWORK", 48,
     "nnz is 1 on a dense connection"),
    ("rule length on a fixed connection", lambda: edited(False, (52, "<I", 4)),
     "EL_ART_E_NETWORK", 52, "rule length is 4 on a connection that is not plastic"),
    ("sparse nnz over n_src x n_dst", lambda: edited(True, (48, "<I", 9)), "EL_ART_E_NETWORK",
     48, "nnz 9 exceeds 2 x 4"),
    ("sparse indptr[0] != 0", lambda: edited(True, (56, "<I", 1)), "EL_ART_E_NETWORK", 56,
     "indptr runs from 1 to 3"),
    ("sparse indptr[-1] != nnz", lambda: edited(True, (64, "<I", 2)), "EL_ART_E_NETWORK", 56,
     "indptr runs from 0 to 2, must run from 0 to nnz = 3"),
    ("input map reserved", lambda: edited(False, (82, "<H", 1)), "EL_ART_E_INPUT_MAP", 82,
     "input map reserved field is 1"),
    ("input map width 0", lambda: edited(False, (72, "<H", 0)), "EL_ART_E_INPUT_MAP", 72,
     "input map width is 0"),
    ("input map height 0", lambda: edited(False, (74, "<H", 0)), "EL_ART_E_INPUT_MAP", 74,
     "input map height is 0"),
    ("input map polarities 3", lambda: edited(False, (76, "<B", 3)), "EL_ART_E_INPUT_MAP", 76,
     "input map polarities is 3"),
    ("input map shift 16", lambda: edited(False, (77, "<B", 16)), "EL_ART_E_INPUT_MAP", 77,
     "input map shift is 16"),
    ("input map dt_us 0", lambda: edited(False, (84, "<I", 0)), "EL_ART_E_INPUT_MAP", 84,
     "input map dt_us is 0"),
    ("input map axons != n_inputs", lambda: edited(False, (72, "<H", 3)), "EL_ART_E_INPUT_MAP",
     72, "input map gives 6 axons but the network has 4 inputs"),
    ("sparse input map reserved", lambda: edited(True, (102, "<H", 7)), "EL_ART_E_INPUT_MAP",
     102, "input map reserved field is 7"),
    ("readout population 1 of 1", lambda: edited(False, (96, "<H", 1)), "EL_ART_E_READOUT", 96,
     "readout population 1 does not exist"),
]


@pytest.mark.parametrize("sparse", [False, True])
def test_the_unchanged_small_files_load_in_both(c_loader, sparse):
    data, _ = small(sparse)
    assert c_loader(data) == "EL_ART_OK"
    artifact.from_bytes(data)
    assert edited(sparse)[0] == data  # resealing an unchanged file changes nothing


@pytest.mark.parametrize(("case", "build", "c_status", "at", "says"), REFUSED,
                         ids=[r[0] for r in REFUSED])
def test_python_refuses_what_the_c_loader_refuses(c_loader, case, build, c_status, at, says):
    blob, p = build()
    assert c_loader(blob) == c_status, case
    with pytest.raises(artifact.ArtifactError, match=says) as e:
        artifact.from_bytes(blob)
    assert e.value.offset == (None if at is None else p + at), str(e.value)


def test_python_and_c_agree_on_resealed_mutations(c_loader):
    """Random edits of the payload (bit flips, bytes, u16/u32 field values, reordered or
    repeated sections), both CRCs recomputed: Python loads the file exactly when the device
    would run it (the C loader, then the core's own checks)."""
    rng = np.random.default_rng(7)
    bases = [small(False), small(True), (artifact.to_bytes(sample()), None)]
    agreed = {True: 0, False: 0}
    for data, _ in bases:
        p = 32 + struct.unpack_from("<I", data, 12)[0]
        secs, q = [], p
        while q < len(data):
            n = struct.unpack_from("<I", data, q + 4)[0]
            secs.append(data[q:q + 8 + n + (-n) % 4])
            q += 8 + n + (-n) % 4
        for _ in range(700):
            b = bytearray(data)
            r = rng.random()
            if r < 0.15:
                b = bytearray(data[:p] + b"".join(secs[k] for k in rng.choice(
                    len(secs), rng.integers(1, 5))))
            elif r < 0.55:
                pos = p + 2 * int(rng.integers((len(data) - p) // 2 - 1))
                value = int(rng.choice([0, 1, 2, 3, 4, 8, 15, 16, 255, 256, 0xFFFF, 1 << 16,
                                        1 << 31, 0xFFFFFFFF, int(rng.integers(1 << 32))]))
                fmt = "<H" if rng.random() < 0.5 else "<I"
                struct.pack_into(fmt, b, pos, value & (0xFFFF if fmt == "<H" else 0xFFFFFFFF))
            else:
                for pos in p + rng.integers(len(data) - p, size=rng.integers(1, 4)):
                    b[pos] ^= 1 << int(rng.integers(8))
            blob = reseal(b)
            device = c_loader(blob) == "EL_ART_OK"
            try:
                artifact.from_bytes(blob)
                here = True
            except artifact.ArtifactError:
                here = False
            assert here == device, (c_loader(blob), blob.hex())
            agreed[here] += 1
    assert agreed[True] > 50 and agreed[False] > 500, agreed


# ---- what save writes, load reads ----------------------------------------------------------------


def net8() -> Network:
    return layer(8, 3, w=np.ones((3, 8)))


BAD_FOR_WRITING = [
    (artifact.InputMap(34, 34), None, ValueError,
     r"input_map gives width \* height \* polarities = 34 \* 34 \* 2 = 2312 axons, but the "
     r"network has n_inputs = 8"),
    (artifact.InputMap(2, 2, 2), artifact.Readout(1), ValueError,
     r"readout.population = 1 is out of range \[0, 0\]"),
    (None, artifact.Readout(-1), ValueError, r"readout.population = -1"),
    (artifact.InputMap(2, 2, 3), None, ValueError, r"input_map.polarities = 3 is out of range"),
    (artifact.InputMap(2, 2, 0), None, ValueError, r"input_map.polarities = 0"),
    (artifact.InputMap(4, 1, dt_us=0), None, ValueError, r"input_map.dt_us = 0"),
    (artifact.InputMap(4, 1, dt_us=1 << 32), None, ValueError, r"input_map.dt_us = 4294967296"),
    (artifact.InputMap(0, 4), None, ValueError, r"input_map.width = 0"),
    (artifact.InputMap(4, 0), None, ValueError, r"input_map.height = 0"),
    (artifact.InputMap(4, 1, shift=-1), None, ValueError, r"input_map.shift = -1"),
    (artifact.InputMap(4, 1, shift=16), None, ValueError, r"input_map.shift = 16"),
    (artifact.InputMap(4, 1, x0=1 << 16), None, ValueError, r"input_map.x0 = 65536"),
    (artifact.InputMap(4, 1, y0=-3), None, ValueError, r"input_map.y0 = -3"),
    (artifact.InputMap(4.0, 1), None, TypeError, r"input_map.width must be an integer"),
    (None, artifact.Readout(0, r_pos=200), ValueError,
     r"readout.r_pos = 200 is out of range \[-128, 127\]"),
    (None, artifact.Readout(0, r_neg=-129), ValueError, r"readout.r_neg = -129"),
    (None, artifact.Readout(0, steps=-1), ValueError, r"readout.steps = -1"),
    (None, artifact.Readout(0, steps=1 << 32), ValueError, r"readout.steps = 4294967296"),
    (None, artifact.Readout(True), TypeError, r"readout.population must be an integer"),
]


@pytest.mark.parametrize(("input_map", "readout", "error", "says"), BAD_FOR_WRITING,
                         ids=[b[3].split(" ")[0].split("(")[0] for b in BAD_FOR_WRITING])
def test_save_refuses_what_load_would_refuse_and_writes_nothing(tmp_path, input_map, readout,
                                                                 error, says):
    art = artifact.Artifact(net8(), input_map, readout)
    with pytest.raises(error, match=says):
        artifact.to_bytes(art)
    with pytest.raises(error, match=says):
        artifact.save(tmp_path / "m.elm", art)
    assert list(tmp_path.iterdir()) == []
    good = artifact.save(tmp_path / "old.elm", artifact.Artifact(net8()))
    with pytest.raises(error):
        artifact.save(tmp_path / "old.elm", art)  # an existing file is left as it was
    assert sorted(tmp_path.iterdir()) == [tmp_path / "old.elm"]
    assert (tmp_path / "old.elm").read_bytes() == good


def test_save_refuses_a_file_larger_than_load_reads(tmp_path, monkeypatch):
    art = artifact.Artifact(net8())
    size = len(artifact.to_bytes(art))
    monkeypatch.setattr(artifact, "MAX_BYTES", size - 1)
    with pytest.raises(ValueError, match=f"{size} bytes, larger than the {size - 1}-byte"):
        artifact.save(tmp_path / "m.elm", art)
    assert list(tmp_path.iterdir()) == []
    monkeypatch.setattr(artifact, "MAX_BYTES", size)
    artifact.save(tmp_path / "m.elm", art)
    artifact.load(tmp_path / "m.elm")


def test_save_removes_its_temporary_file_when_writing_fails(tmp_path):
    (tmp_path / "m.elm").mkdir()  # the rename onto a directory fails
    with pytest.raises(OSError):
        artifact.save(tmp_path / "m.elm", artifact.Artifact(net8()))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.elm"]


def test_the_extremes_save_accepts_load_back(tmp_path, c_loader):
    net = layer(0xFFFF, 1, w=np.ones((1, 0xFFFF)))
    m = artifact.InputMap(0xFFFF, 1, 1, shift=15, x0=0xFFFF, y0=0xFFFF, dt_us=0xFFFFFFFF)
    for ro in (artifact.Readout(0, -128, 127, 0xFFFFFFFF), artifact.Readout(0, 127, -128, 0)):
        data = artifact.save(tmp_path / "m.elm", artifact.Artifact(net, m, ro))
        back = artifact.load(tmp_path / "m.elm")
        assert (back.input_map, back.readout) == (m, ro)
        assert c_loader(data) == "EL_ART_OK"
    m1 = artifact.InputMap(np.int64(8), np.uint16(1), 1, dt_us=np.int32(5))  # numpy integers
    assert artifact.from_bytes(artifact.to_bytes(artifact.Artifact(net8(), m1))).input_map == m1


def test_a_third_factor_source_of_another_size_is_refused_at_its_byte(c_loader):
    """Population 0 computes its third factor from population 2 (3 neurons each); the byte is
    edited to name population 1 (4 neurons): the C loader's core refuses it, Python names the
    byte."""
    net = Network(2, (Population("a", 3, third_from="c"), Population("b", 4),
                      Population("c", 3)), ())
    data = artifact.to_bytes(artifact.Artifact(net))
    p = 32 + struct.unpack_from("<I", data, 12)[0]
    assert data[p + 34] == 3  # population 0's third-factor byte: population 2, plus 1
    b = bytearray(data)
    b[p + 34] = 2
    blob = reseal(b)
    assert c_loader(blob) == "EL_ERR_RANGE"
    with pytest.raises(artifact.ArtifactError, match="third factor from population 1, which "
                                                     "has 4 neurons, not 3") as e:
        artifact.from_bytes(blob)
    assert e.value.offset == p + 34
