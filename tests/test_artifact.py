"""Artifacts: lossless round trip, and every corruption refused with a clear error."""

import numpy as np
import pytest

from edgelearn import INPUT, Connection, Network, Population, artifact, rule
from edgelearn.cli import main


def sample() -> artifact.Artifact:
    rng = np.random.default_rng(0)
    pops = (Population("hidden", 6, du=100, dv=200, vth_mant=40, bias_mant=rng.integers(-9, 9, 6)),
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
        assert (p.name, p.size, p.du, p.dv, p.vth_mant, p.bias_exp, p.refractory) == (
            q.name, q.size, q.du, q.dv, q.vth_mant, q.bias_exp, q.refractory)
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
    import struct
    import zlib
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
