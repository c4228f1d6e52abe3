"""The host client against the host emulator (firmware_sim, built from csrc/): end-to-end
on-device learning equal to the in-process C runtime, fault injection on the raw link, safe
retries, reconnects, backpressure, and the CLI."""

from __future__ import annotations

import dataclasses
import socket
import struct
import time
from pathlib import Path

import fw_common as F
import numpy as np
import pytest

from edgelearn import artifact
from edgelearn import protocol as P
from edgelearn.cli import main
from edgelearn.device import Device, map_events, rule_param_ids

launcher = pytest.importorskip("firmware_sim.launcher")

try:
    launcher.csrc_dir()
except launcher.FirmwareError as e:  # an installed package without the C sources
    pytest.skip(str(e), allow_module_level=True)


@pytest.fixture(scope="module")
def emu_tcp():
    with launcher.start("host", "tcp") as emu:
        yield emu


@pytest.fixture(scope="module", params=["host", "qemu"])
def emu_any(request):
    """The host emulator and the Cortex-M4 firmware under QEMU, both on TCP."""
    if request.param == "qemu" and launcher.qemu_available():
        pytest.skip(f"Cortex-M firmware: {launcher.qemu_available()}")
    with launcher.start(request.param, "tcp") as emu:
        yield emu


@pytest.fixture(scope="module")
def emu_pty():
    with launcher.start("host", "pty") as emu:
        yield emu


@pytest.mark.parametrize("transport", ["tcp", "pty"])
def test_oneshot_session_equals_in_process_runtime(transport, request):
    emu = request.getfixturevalue(f"emu_{transport}")
    art = F.oneshot_artifact(0)
    s = F.make_session(0)
    ref = F.reference(art, s)
    with Device(emu.url) as dev:
        out = F.on_device(dev, art, s)
        info = dev.info()
    F.assert_same(ref, out)
    assert info.model_loaded == 1 and info.learning == 0
    # learning happened on the device (the weights moved away from the artifact's)
    first = art.network.connections[1].weights
    assert not np.array_equal(out.weights[1].reshape(first.shape), first)


def test_rule_hyperparameters_change_learning_like_the_runtime(emu_tcp):
    """RULE replaces hyperparameters in place; the runtime with the same rule agrees."""
    import dataclasses

    from edgelearn import Network, runtime

    art = F.oneshot_artifact(1)
    ids = rule_param_ids(art)
    coef = [i for i, k, name, j in ids if name == "coef"]
    decay = [i for i, k, name, j in ids if name == "decay" and j == 0]
    new = {coef[0]: 3, decay[0]: 1000, coef[1]: -2}
    with Device(emu_tcp.url) as dev:
        dev.load(artifact.to_bytes(art))
        assert dev.set_rule(new) == 3
        with pytest.raises(P.DeviceError) as e:
            dev.set_rule({coef[0]: 5, len(ids) + 7: 1})  # unknown id: nothing applied
        assert e.value.status == P.Status.ERR_RANGE and e.value.detail == 1
        with pytest.raises(P.DeviceError):
            dev.set_rule({decay[0]: 5000})  # out of range
        s = F.make_session(1, n_test=2)
        # the training part of a session, by hand (F.on_device would reload the artifact)
        dev.learn(True)
        for k, (c, t, a) in enumerate(s.train):
            dev.label(c)
            dev.stream(t, a, (k + 1) * F.STEPS)
        w_dev = {k: dev.read_weights(k).reshape(-1) for k in (1, 2)}
    # the reference: the same artifact with the new hyperparameters
    conns = list(art.network.connections)
    for k in (1, 2):
        h = conns[k].rule.hyper()
        vals = {n: list(getattr(h, n)) for n in ("coef", "decay", "impulse", "gate")}
        for i, kk, name, j in ids:
            if kk == k and i in new:
                vals[name][j] = new[i]
        conns[k] = dataclasses.replace(conns[k], rule=conns[k].rule.with_hyper(
            type(h)(**{n: tuple(v) for n, v in vals.items()})))
    net = Network(art.network.n_inputs, art.network.populations, tuple(conns),
                  seed=art.network.seed)
    core = runtime.Core(net)
    lo = art.network.populations[0].size
    for c, t, a in s.train:
        third = np.zeros(core.n_neurons, np.int64)
        third[lo:] = art.readout.r_neg
        third[lo + c] = art.readout.r_pos
        core.set_third(third)
        x = np.zeros((F.STEPS, 32), bool)
        x[t - core.time, a] = True
        core.run(x)
    for k in (1, 2):
        want = F.artifact_order(art, k, core.weights(k)).reshape(-1)
        np.testing.assert_array_equal(w_dev[k], want)


# ---- the raw link ------------------------------------------------------------------------------


class Raw:
    """A bare TCP connection speaking frames, for fault injection."""

    def __init__(self, url: str):
        host, port = url.removeprefix("socket://").rsplit(":", 1)
        self.s = socket.create_connection((host, int(port)), timeout=2)
        self.rx = P.Receiver()

    def send(self, data: bytes) -> None:
        self.s.sendall(data)

    def frames(self, n: int, timeout: float = 2.0) -> list[P.Frame]:
        out: list[P.Frame] = []
        deadline = time.monotonic() + timeout
        while len(out) < n and time.monotonic() < deadline:
            self.s.settimeout(max(0.01, deadline - time.monotonic()))
            try:
                data = self.s.recv(4096)
            except TimeoutError:
                break
            out += [f for f in self.rx.feed(data) if isinstance(f, P.Frame)]
        return out

    def none_within(self, t: float = 0.2) -> bool:
        return not self.frames(1, timeout=t)

    def ask(self, msg: P.Message, seq: int) -> P.Message:
        self.send(b"\0" + P.encode_message(msg, seq))
        (f,) = self.frames(1)
        assert f.seq == seq
        return P.decode_message(f)

    def close(self) -> None:
        self.s.close()


def error_of(f: P.Frame) -> P.Error:
    assert f.type == P.MsgType.ERROR
    return P.decode_message(f)  # type: ignore[return-value]


def test_faults_get_error_frames_or_resync_and_state_stays(emu_any):
    art = F.oneshot_artifact(2, plastic=False)
    other = F.oneshot_artifact(3, plastic=False)
    with Device(emu_any.url) as dev:
        dev.load(artifact.to_bytes(art))
        dev.run(7)
        before = (dev.info(), dev.read_weights(0).copy(), dev.read_counts().copy())
    raw = Raw(emu_any.url)
    rng = np.random.default_rng(5)
    good = P.encode_message(P.Run(3), 77)
    body = P.cobs_decode(good[:-1])
    # garbage: non-zero noise, then a delimiter -> one unattributed error (or silence)
    raw.send(bytes(rng.integers(1, 256, 300).astype(np.uint8)) + b"\0")
    for f in raw.frames(1, timeout=0.3):
        assert f.seq == 0 and error_of(f).request_type == 0
    # CRC error
    bad = bytearray(body)
    bad[7] ^= 0x10
    raw.send(P.cobs_encode(bytes(bad)) + b"\0")
    (f,) = raw.frames(1)
    assert f.seq == 0 and error_of(f).status == P.Status.E_CRC
    # truncated frame
    raw.send(good[:-4] + b"\0")
    (f,) = raw.frames(1)
    assert f.seq == 0 and error_of(f).status in (P.Status.E_COBS, P.Status.E_SHORT, P.Status.E_CRC)
    # oversize
    raw.send(b"\x01" * (P.MAX_WIRE + 100) + b"\0")
    (f,) = raw.frames(1)
    assert f.seq == 0 and error_of(f).status == P.Status.E_OVERSIZE
    # unknown version: attributed, detail = the device's version
    raw.send(P.encode_frame(P.MsgType.INFO, 90, b"", version=2))
    (f,) = raw.frames(1)
    assert f.seq == 90 and error_of(f).status == P.Status.E_VERSION and error_of(f).detail == 1
    # unknown type, a response type sent to the device, seq 0, a bad length
    for wire, seq, status in ((P.encode_frame(0x77, 91, b""), 91, P.Status.E_TYPE),
                              (P.encode_frame(0x81, 92, b""), 92, P.Status.E_TYPE),
                              (P.encode_frame(P.MsgType.INFO, 0, b""), 0, P.Status.E_SEQ),
                              (P.encode_frame(P.MsgType.RUN, 93, b"\1\0\0"), 93,
                               P.Status.E_PAYLOAD)):
        raw.send(wire)
        (f,) = raw.frames(1)
        assert f.seq == seq and error_of(f).status == status
    # a header length that disagrees with the frame (CRC recomputed)
    hdr = struct.pack("<BBHH", 1, P.MsgType.INFO, 94, 5)
    raw.send(P.cobs_encode(hdr + struct.pack("<I", P.crc32(hdr))) + b"\0")
    (f,) = raw.frames(1)
    assert f.seq == 94 and error_of(f).status == P.Status.E_LENGTH
    # out-of-order sequence numbers are just new requests
    for seq in (500, 3, 65000, 4):
        assert isinstance(raw.ask(P.InfoRequest(), seq), P.Info)
    # corrupted LOAD chunk: the CRC of the whole artifact catches it; the model stays
    data = bytearray(artifact.to_bytes(other))
    assert isinstance(raw.ask(P.LoadBegin(len(data), P.crc32(bytes(data))), 600), P.LoadBeginOk)
    chunk = bytes(data[:700])
    flipped = bytes([chunk[0] ^ 1]) + chunk[1:]
    raw.ask(P.LoadChunk(0, flipped), 601)
    with pytest.raises(P.DeviceError) as e:
        _raise(raw.ask(P.LoadCommit(), 602), 602)
    assert e.value.status == P.Status.E_INCOMPLETE and e.value.detail == 700
    with pytest.raises(P.DeviceError) as e:
        _raise(raw.ask(P.LoadChunk(5, bytes(data[5:100])), 603), 603)
    assert e.value.status == P.Status.E_OFFSET and e.value.detail == 700
    for off in range(700, len(data), 1000):
        raw.ask(P.LoadChunk(off, bytes(data[off:off + 1000])), 604 + off)
    with pytest.raises(P.DeviceError) as e:
        _raise(raw.ask(P.LoadCommit(), 605), 605)
    assert e.value.status == P.Status.E_ARTIFACT_CRC
    # a LOAD of a damaged artifact with a matching CRC: the artifact check refuses it
    data[40] ^= 0xFF
    raw.ask(P.LoadBegin(len(data), P.crc32(bytes(data))), 606)
    for off in range(0, len(data), 1000):
        raw.ask(P.LoadChunk(off, bytes(data[off:off + 1000])), 6000 + off // 1000)
    with pytest.raises(P.DeviceError) as e:
        _raise(raw.ask(P.LoadCommit(), 700), 700)
    assert 96 <= e.value.status <= 127  # the artifact reader's status, passed through
    assert e.value.name.startswith("EL_ART_E_") and e.value.name in str(e.value)  # and named
    # events: too late, out of order across batches, unknown axon -> ERR_RANGE, nothing queued
    now = before[0].step
    for seq, evs in ((701, ((now - 1, 0),)), (702, ((now + 5, 0), (now + 6, 99)))):
        with pytest.raises(P.DeviceError) as e:
            _raise(raw.ask(P.Events(evs), seq), seq)
        assert e.value.status == P.Status.ERR_RANGE
    raw.close()
    with Device(emu_any.url) as dev:
        info = dev.info()
        assert (info.model_loaded, info.step) == (1, before[0].step)
        np.testing.assert_array_equal(dev.read_weights(0), before[1].reshape(-1))
        np.testing.assert_array_equal(dev.read_counts(population=1), before[2])
        assert dev.events([now + 1], [3]).queued == 1  # the queue was empty
        assert dev.run(2).events_consumed == 1


def _raise(msg: P.Message, seq: int) -> P.Message:
    if isinstance(msg, P.Error):
        raise msg.exception(seq)
    return msg


def _raw_run5(url: str, seq: int) -> tuple[Raw, bytes, bytes, int]:
    """A model loaded, then RUN 5 sent once with ``seq`` on a raw link: ``(link, the request's
    bytes, its answer, the step before it)``."""
    with Device(url) as dev:
        dev.load(artifact.to_bytes(F.oneshot_artifact(2, plastic=False)))
        step0 = dev.info().step
    raw = Raw(url)
    wire = b"\0" + P.encode_message(P.Run(5), seq)
    raw.send(wire)
    (a,) = raw.frames(1)
    return raw, wire, a, step0


def test_retransmission_is_answered_from_cache_not_executed_twice(emu_any):
    raw, wire, a, step0 = _raw_run5(emu_any.url, 4321)
    raw.send(wire)
    (b,) = raw.frames(1)
    assert a == b and P.decode_message(a).step == step0 + 5
    # the link breaks before the answer is read; the host reconnects and resends
    wire = b"\0" + P.encode_message(P.Run(4), 4322)
    raw.send(wire)
    raw.close()
    time.sleep(0.1)
    raw = Raw(emu_any.url)
    raw.send(wire)
    (c,) = raw.frames(1)
    assert P.decode_message(c).step == step0 + 9
    raw.close()
    with Device(emu_any.url) as dev:
        assert dev.info().step == step0 + 9


def test_device_reconnects_and_resends(emu_any):
    with Device(emu_any.url, timeout=0.5) as dev:
        dev.info()
        dev._ser.close()  # the link drops under the client's feet
        assert dev.info().proto_version == 1
        assert dev.stats["reconnects"] >= 1
        dev.reconnect()
        assert dev.ping(b"abc") > 0


def test_backpressure_busy_queues_nothing(emu_any):
    with Device(emu_any.url) as dev:
        dev.load(artifact.to_bytes(F.oneshot_artifact(2, plastic=False)))
        cap = dev.info().event_queue
        t0 = dev.info().step + 10
        n = 0
        while n < cap:
            k = min(P.EVENTS_MAX, cap - n)
            r = dev.events(np.full(k, t0, np.uint32), np.arange(k) % 32)
            n += k
        assert r.credits == 0 and r.queued == cap
        with pytest.raises(P.DeviceError) as e:
            dev.events([t0], [1])
        assert e.value.status == P.Status.E_BUSY and e.value.detail == 0
        run = dev.run(11)
        assert run.events_consumed == cap and run.credits == cap
        assert dev.events([t0 + 1], [1]).accepted == 1


def test_stream_more_events_than_the_queue_loses_none(emu_tcp):
    with Device(emu_tcp.url) as dev:
        dev.load(artifact.to_bytes(F.oneshot_artifact(2, plastic=False)))
        rng = np.random.default_rng(3)
        t = np.sort(rng.integers(0, 400, 150_000)).astype(np.uint32)
        res = dev.stream(t, rng.integers(0, 32, t.size), 400)
        assert res.sent == res.consumed == t.size and res.step == 400 and res.runs > 1


def test_map_events_follows_the_input_map():
    m = artifact.InputMap(4, 4, 2, shift=1, x0=2, y0=0, dt_us=100)
    ev = np.array([(150, 2, 0, 1), (99, 3, 1, 0), (250, 9, 7, 0), (10, 1, 1, 1)],
                  dtype=[("t", "<i8"), ("x", "<i2"), ("y", "<i2"), ("p", "u1")])
    t, a = map_events(ev, m, t0_us=0)
    # (99, x'=0, y'=0, p=0) -> step 0 axon 0; (150, 0, 0, 1) -> step 1 axon 16;
    # (250, x'=3, y'=3) -> step 2 axon 15; x < x0 dropped
    assert t.tolist() == [0, 1, 2] and a.tolist() == [0, 16, 15]
    # by default step 0 starts at the earliest event (t = 10 here, an event the map drops),
    # as bin_events has it, whatever the order of the events
    late = ev.copy()
    late["t"] += 10**12  # a camera clock that has run for 11.6 days
    t, a = map_events(late[[3, 2, 0, 1]], m)
    assert t.tolist() == [0, 1, 2] and a.tolist() == [0, 16, 15]
    with pytest.raises(ValueError, match="u32 timestep"):
        map_events(late, m, t0_us=0)  # steps past 2^32 are refused, not wrapped


def test_cli_deploy_and_device_info(emu_tcp, tmp_path, capsys):
    path = tmp_path / "m.elm"
    artifact.save(path, F.oneshot_artifact(4))
    assert main(["deploy", str(path), "--port", emu_tcp.url, "--save"]) == 0
    assert main(["device", "info", "--port", emu_tcp.url]) == 0
    out = capsys.readouterr().out
    assert "loaded" in out and "saved: generation" in out and "model loaded" in out
    assert main(["device", "ping", "--port", emu_tcp.url]) == 0
    for action in ("reset", "restore", "save"):
        assert main(["device", action, "--port", emu_tcp.url]) == 0
    assert "restored: generation" in capsys.readouterr().out
    assert main(["device", "info", "--port", "socket://127.0.0.1:1", "--timeout", "0.1"]) == 1


@pytest.mark.parametrize("seed", range(16))
def test_random_networks_on_device_equal_runtime(emu_tcp, seed):
    _random_network_case(emu_tcp, seed)


@pytest.mark.parametrize("seed", range(100, 104))
def test_random_networks_on_both_firmwares_equal_runtime(emu_any, seed):
    _random_network_case(emu_any, seed)


def _random_network_case(emu, seed):
    """Random networks (dense/sparse, recurrent, plastic with each shipped rule), random events,
    third factors and learning switches: counts of every population and every connection's
    weights equal the in-process runtime's."""
    from edgelearn import INPUT, Connection, Network, Population, rule, runtime

    rng = np.random.default_rng(seed)
    rules = ["stdp", "rstdp", "error_triggered", "hebbian_write"]
    sizes = rng.integers(3, 20, int(rng.integers(1, 4)))
    pops = tuple(Population(f"p{i}", int(n), du=int(rng.integers(0, 4096)),
                            dv=int(rng.integers(0, 4096)), vth_mant=int(rng.integers(1, 80)),
                            bias_mant=rng.integers(-20, 30, int(n)),
                            bias_exp=int(rng.integers(0, 3)),
                            refractory=int(rng.integers(1, 4))) for i, n in enumerate(sizes))
    n_in = int(rng.integers(4, 40))
    conns = []
    for k in range(int(rng.integers(1, 5))):
        src = INPUT if k == 0 or rng.random() < 0.3 else f"p{rng.integers(len(pops))}"
        dst = f"p{rng.integers(len(pops))}"
        ns = n_in if src == INPUT else int(sizes[int(src[1:])])
        nd = int(sizes[int(dst[1:])])
        r = rule.shipped(rules[int(rng.integers(4))]) if rng.random() < 0.6 else None
        w_exp = int(rng.integers(-2, 3))
        if rng.random() < 0.4:
            keep = rng.random((nd, ns)) < 0.4
            conns.append(Connection(src, dst, rng.integers(-80, 120, int(keep.sum())), w_exp=w_exp,
                                    indptr=np.concatenate([[0], np.cumsum(keep.sum(1))]),
                                    indices=np.nonzero(keep)[1], rule=r))
        else:
            conns.append(Connection(src, dst, rng.integers(-80, 120, (nd, ns)), w_exp=w_exp,
                                    rule=r))
    net = Network(n_in, pops, tuple(conns), seed=int(rng.integers(1 << 31)))
    art = artifact.Artifact(net, None, artifact.Readout(len(pops) - 1, 90, -20, 10))
    core = runtime.Core(net)
    core.set_learning(False)
    lo = [sum(int(n) for n in sizes[:i]) for i in range(len(sizes))]
    with Device(emu.url) as dev:
        dev.load(artifact.to_bytes(art))
        third = np.zeros(core.n_neurons, np.int64)
        counts = np.zeros(core.n_neurons, np.int64)
        for _ in range(6):
            T = int(rng.integers(5, 40))
            x = rng.random((T, n_in)) < 0.15
            t, a = np.nonzero(x)
            learn = bool(rng.random() < 0.7)
            dev.learn(learn)
            core.set_learning(learn)
            p = int(rng.integers(len(pops)))
            if rng.random() < 0.5 and p == len(pops) - 1:
                c = int(rng.integers(-1, int(sizes[p])))
                dev.label(c, population=p)
                third[lo[p]:lo[p] + sizes[p]] = 0 if c < 0 else -20
                if c >= 0:
                    third[lo[p] + c] = 90
            else:
                r = int(rng.integers(-128, 128))
                dev.third(r, population=p)
                third[lo[p]:lo[p] + sizes[p]] = r
            core.set_third(third)
            start = core.time
            dev.stream(t + start, a, start + T)
            counts += core.run(x).s.sum(0)
        for i in range(len(pops)):
            np.testing.assert_array_equal(dev.read_counts(population=i),
                                          counts[lo[i]:lo[i] + sizes[i]])
        for k, c in enumerate(net.connections):
            # plastic: as learned; others: the artifact's mantissas (matrix or CSR values)
            want = F.artifact_order(art, k, core.weights(k)) if c.plastic else np.asarray(c.weights)
            np.testing.assert_array_equal(dev.read_weights(k).reshape(-1), want.reshape(-1))
        assert dev.info().step == core.time


def test_cli_emulator_prints_url_serves_and_stops_on_interrupt():
    import signal
    import subprocess
    import sys

    proc = subprocess.Popen([sys.executable, "-m", "edgelearn", "emulator", "--tcp",
                             "127.0.0.1:0"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    try:
        url = proc.stdout.readline().strip()
        assert url.startswith("socket://127.0.0.1:")
        with Device(url) as dev:
            assert dev.info().proto_version == 1
        proc.send_signal(signal.SIGINT)
        assert proc.wait(10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    bad = subprocess.run([sys.executable, "-m", "edgelearn", "emulator", "--tcp", "0.0.0.0:5"],
                         capture_output=True, text=True)
    assert bad.returncode == 2 and "loopback" in bad.stderr


class _NoisyLink:
    """A serial object that flips bits (a bad cable): in a share `p_write` of the frames written
    and in a share `p_byte` of the bytes read."""

    def __init__(self, ser, rng: np.random.Generator, p_write: float, p_byte: float):
        self._s, self._rng, self._pw, self._pb = ser, rng, p_write, p_byte
        self.flips = 0

    def _flip(self, data: bytes, p: float) -> bytes:
        b = bytearray(data)
        for i in np.nonzero(self._rng.random(len(b)) < p)[0]:
            b[i] ^= 1 << int(self._rng.integers(8))
            self.flips += 1
        return bytes(b)

    def write(self, data: bytes) -> int:
        if data and self._rng.random() < self._pw:
            data = self._flip(data, 1.5 / len(data))
        return self._s.write(data)

    def read(self, n: int) -> bytes:
        return self._flip(self._s.read(n), self._pb)

    def __getattr__(self, name):
        return getattr(self._s, name)


@pytest.mark.parametrize("target", ["host", "qemu"])
def test_oneshot_session_over_a_noisy_link_is_still_exact(target):
    """Bit flips in 15 % of the frames written and 1 in 1,000 bytes read: the receivers drop the
    damaged frames, the host resends (at once on an unattributed device error, else after its
    timeout), the device answers repeats from its cache without running them again, and the
    session's outcome is still exactly the runtime's."""
    if target == "qemu" and launcher.qemu_available():
        pytest.skip(f"Cortex-M firmware: {launcher.qemu_available()}")
    art = F.oneshot_artifact(0)
    s = F.make_session(0, n_test=3)
    ref = F.reference(art, s)
    with launcher.start(target, "tcp") as emu, Device(emu.url, timeout=0.15, retries=12) as dev:
        noisy = _NoisyLink(dev._ser, np.random.default_rng(1), 0.15, 1e-3)
        dev._ser = noisy
        out = F.on_device(dev, art, s)
        dev._ser = noisy._s
    F.assert_same(ref, out)
    assert noisy.flips > 5 and dev.stats["resends"] > 0


def test_cli_deploy_refuses_an_artifact_larger_than_the_device_takes(emu_tcp, tmp_path, capsys):
    machine = Path(__file__).resolve().parent.parent / "edgelearn" / "data" / "fsm_example.toml"
    big = tmp_path / "big.elm"  # N = 1100: (2 N + 1)^2 dense weights, 4.8 MB > 4 MiB
    assert main(["fsm", "compile", str(machine), "-n", "1100", "-o", str(big)]) == 0
    assert "the host emulator accepts artifacts up to" in capsys.readouterr().err
    assert main(["deploy", str(big), "--port", emu_tcp.url]) == 1
    err = capsys.readouterr().err
    assert f"{big} is {big.stat().st_size:,} bytes; this device accepts artifacts of at most" in err
    for bad in ("0", "-1", "x"):
        with pytest.raises(SystemExit) as e:
            main(["device", "info", "--port", emu_tcp.url, "--timeout", bad])
        assert e.value.code == 2
    assert "--timeout" in capsys.readouterr().err


def test_cli_emulator_says_when_its_firmware_dies():
    # `edgelearn emulator` exits 1 with a line saying so when the firmware process goes away
    # (here: killed), not 0 in silence
    import signal
    import subprocess
    import sys

    p = subprocess.Popen([sys.executable, "-m", "edgelearn", "emulator"], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    try:
        assert p.stdout.readline().strip()  # the URL: the firmware is up
        subprocess.run(["pkill", "-KILL", "-P", str(p.pid)], check=True)
        _, err = p.communicate(timeout=30)
    finally:
        p.kill()
    assert p.returncode == 1
    assert f"the host firmware stopped (killed by signal {signal.SIGKILL.value})" in err


def test_map_events_polarity_is_on_when_nonzero():
    # as AddressMap has it: p = 2 is ON (it addressed an axon past the map before)
    m = artifact.InputMap(4, 4, 2, dt_us=100)
    ev = np.array([(0, 1, 1, 1), (5, 1, 1, 2)],
                  dtype=[("t", "<i8"), ("x", "<i2"), ("y", "<i2"), ("p", "u1")])
    assert map_events(ev, m)[1].tolist() == [21, 21]


def test_stream_refuses_events_it_would_not_input(emu_tcp):
    # t is absolute: events before the device's step, or at/after n_steps, are refused with
    # the range named (events past n_steps were left out silently before)
    with Device(emu_tcp.url) as dev:
        dev.load(artifact.to_bytes(F.oneshot_artifact(2, plastic=False)))
        dev.reset(model=False)
        assert dev.stream(np.array([0, 3]), np.array([1, 2]), 10).sent == 2
        with pytest.raises(ValueError, match=r"outside \[10, 20\)"):
            dev.stream(np.array([0, 3]), np.array([1, 2]), 20)  # mapped from 0: shift by 10
        with pytest.raises(ValueError, match="outside"):
            dev.stream(np.array([12, 25]), np.array([1, 2]), 20)
        with pytest.raises(ValueError, match="one length"):
            dev.stream(np.array([12, 13]), np.array([1]), 20)
        assert dev.stream(np.array([10, 13]), np.array([1, 2]), 20).sent == 2


def test_seq0_error_keeps_the_retransmission_cache(emu_any):
    """A request numbered 0 gets E_SEQ through the device's small error buffer: the cached
    answer of the request before it survives, so that request's resend is answered from the
    cache and not run again (docs/protocol.md sections 2 and 9)."""
    raw, wire, a, step0 = _raw_run5(emu_any.url, 4444)
    assert P.decode_message(a).step == step0 + 5
    raw.send(wire)
    assert raw.frames(1) == [a]  # cached
    for zero in (P.encode_frame(P.MsgType.INFO, 0, b""),
                 P.encode_frame(P.MsgType.RUN, 0, struct.pack("<I", 3))):
        raw.send(zero)
        (f,) = raw.frames(1)
        assert f.seq == 0 and error_of(f).status == P.Status.E_SEQ
    raw.send(wire)
    assert raw.frames(1) == [a]  # still the cached answer, byte for byte: not run again
    raw.close()
    with Device(emu_any.url) as dev:
        assert dev.info().step == step0 + 5


def _stage(dev: Device, data: bytes) -> None:
    """LOAD_BEGIN and every chunk of `data`, without the COMMIT."""
    dev.request(P.LoadBegin(len(data), P.crc32(data)))
    for off in range(0, len(data), 1000):
        dev.request(P.LoadChunk(off, data[off:off + 1000]))


def test_restore_aborts_an_unfinished_load_whatever_its_outcome():
    """RESTORE reads the flash through the LOAD staging buffer, so it aborts an unfinished LOAD
    (docs/firmware.md) even when it fails: the COMMIT that follows answers ERR_STATE and the
    running model stays (it used to find the staged bytes overwritten: E_ARTIFACT_CRC)."""
    a, b = (artifact.to_bytes(F.oneshot_artifact(s, plastic=False)) for s in (20, 21))
    w_a = np.asarray(F.oneshot_artifact(20, plastic=False).network.connections[0].weights)
    with launcher.start("host", "tcp") as emu, Device(emu.url) as dev:  # blank flash
        dev.load(a)
        dev.run(3)
        _stage(dev, b)
        with pytest.raises(P.DeviceError) as e:
            dev.restore()
        assert e.value.status == P.Status.E_NO_SAVE
        with pytest.raises(P.DeviceError) as e:
            dev.request(P.LoadCommit())
        assert e.value.status == P.Status.ERR_STATE
        info = dev.info()
        assert (info.model_loaded, info.step) == (1, 3)
        np.testing.assert_array_equal(dev.read_weights(0).reshape(-1), w_a.reshape(-1))
        # a RESTORE that succeeds aborts it too
        assert dev.save() == (1, 0)
        _stage(dev, b)
        assert dev.restore() == (1, 0)
        with pytest.raises(P.DeviceError) as e:
            dev.request(P.LoadCommit())
        assert e.value.status == P.Status.ERR_STATE
        np.testing.assert_array_equal(dev.read_weights(0).reshape(-1), w_a.reshape(-1))


def test_error_codes_are_the_documented_ones(emu_tcp):
    """LOAD_COMMIT of a network the core refuses: an artifact status (EL_ART_E_NETWORK) with the
    core's reason as detail; RULE values each in range but too wide together: ERR_RANGE naming
    the first entry of that connection; EVENTS whose timestamps decrease inside the batch:
    ERR_RANGE naming the first bad event. Nothing changes in each case."""
    from edgelearn import INPUT, Connection, Network, Population, rule

    base = F.oneshot_artifact(2, plastic=False)
    good = artifact.to_bytes(base)
    # du of the first population (network section first: 8-byte section header, then u32
    # n_inputs, u32 seed, u16 n_pops, u16 n_conns, then u32 size, u16 du), resealed
    (m_len,) = struct.unpack_from("<I", good, 12)
    at = 32 + m_len + 8 + 12 + 4
    assert struct.unpack_from("<H", good, at)[0] == base.network.populations[0].du
    bad = bytearray(good)
    struct.pack_into("<H", bad, at, 5000)
    struct.pack_into("<I", bad, 20, P.crc32(bytes(bad[32:])))
    struct.pack_into("<I", bad, 24, P.crc32(bytes(bad[:24])))
    wide = rule.parse("dw = 2^-8 * x1 * (y1 + 20000)\nx1.impulse = 1024\ny1.impulse = 1024\n")
    assert wide.targets["dw"][0].mant_limit() == 6  # a coefficient of 7 is in range, too wide
    net = Network(4, (Population("a", 3, du=100, dv=100, vth_mant=20),),
                  (Connection(INPUT, "a", np.ones((3, 4), int), rule=rule.shipped("stdp")),
                   Connection(INPUT, "a", np.ones((3, 4), int), rule=wide)), seed=5)
    art = artifact.Artifact(net, None, artifact.Readout(0, 90, -20, 10))
    ids = {(k, name, j): i for i, k, name, j in rule_param_ids(art)}
    with Device(emu_tcp.url) as dev:
        dev.load(good)
        dev.run(4)
        with pytest.raises(P.DeviceError) as e:
            dev.load(bytes(bad))
        assert (e.value.status, e.value.detail) == (104, 2)  # EL_ART_E_NETWORK, EL_ERR_RANGE
        assert e.value.name == "EL_ART_E_NETWORK"
        assert dev.info().step == 4  # the running model is untouched
        dev.load(artifact.to_bytes(art))
        entries = [(ids[0, "decay", 0], 100), (ids[0, "impulse", 0], 200),
                   (ids[1, "coef", 0], 7), (ids[1, "decay", 0], 10)]
        with pytest.raises(P.DeviceError) as e:
            dev.set_rule(entries)
        assert (e.value.status, e.value.detail) == (P.Status.ERR_RANGE, 2)
        assert dev.set_rule([(ids[1, "coef", 0], 6)]) == 1  # the limit itself is fine
        now = dev.info().step
    raw = Raw(emu_tcp.url)  # the emulator serves one client at a time
    for seq, evs, first_bad in ((900, ((now + 5, 0), (now + 6, 1), (now + 4, 2)), 2),
                                (901, ((now + 5, 0), (now + 3, 1)), 1),
                                (902, ((now, 0), (now + 9, 1), (now + 8, 1)), 2),
                                (903, ((now + 2, 0), (now + 9, 99), (now + 8, 1)), 1)):
        payload = struct.pack("<HH", len(evs), 0) + b"".join(
            struct.pack("<II", t, a) for t, a in evs)
        raw.send(b"\0" + P.encode_frame(P.MsgType.EVENTS, seq, payload))
        (f,) = raw.frames(1)
        assert f.seq == seq
        assert (error_of(f).status, error_of(f).detail) == (P.Status.ERR_RANGE, first_bad)
    raw.close()
    with Device(emu_tcp.url) as dev:
        assert dev.events([], []).queued == 0  # nothing was queued


def test_error_neurons_learn_on_the_device_from_label_spikes(emu_any):
    """Third factors computed on the device (docs/spec.md 5.3): the labels arrive as input
    events, the error neurons turn them into the readout's third factor; the device refuses
    LABEL and REWARD values other than 0 for that population, and a host refuses to load the
    artifact onto a firmware without the capability. Predictions, counts and learned
    weights equal the in-process runtime's, on the host emulator and the Cortex-M4 firmware."""
    from edgelearn import runtime

    net = F.error_network()
    art = artifact.Artifact(net, None, artifact.Readout(0, 64, -8, F.STEPS))
    _, train, test_c, test = F.error_session(3)
    core = runtime.Core(net)
    with Device(emu_any.url) as dev:
        info = dev.info()
        assert info.caps & P.CAP_COMPUTED_THIRD
        # a firmware without the capability would refuse the file: the host says so first
        dev._info = dataclasses.replace(info, caps=info.caps & ~P.CAP_COMPUTED_THIRD)
        with pytest.raises(ValueError, match="firmware does not do .*update the firmware"):
            dev.load(artifact.to_bytes(art))
        dev._info = info
        dev.load(artifact.to_bytes(art))
        for ask in (lambda: dev.label(1), lambda: dev.third(5, population=0)):
            with pytest.raises(P.DeviceError) as e:
                ask()
            assert e.value.status == P.Status.ERR_STATE
        dev.label(-1)  # zeros are taken, as by el_core_set_third
        dev.third(0, population=0)
        dev.third(-3, population=1)  # err's own third factor is the host's
        core.set_third(np.r_[np.zeros(F.ERR_CLASSES), np.full(F.ERR_CLASSES, -3)])
        dev.learn(True)
        for x in train:
            t, a = np.nonzero(x)
            step = core.time
            r = dev.stream(t + step, a, step + F.STEPS)
            assert r.consumed == r.sent == len(t)
            core.run(x)
        dev.learn(False)
        core.set_learning(False)
        preds, want = [], []
        for x in test:
            t, a = np.nonzero(x)
            dev.read_counts(clear=True)
            dev.stream(t + core.time, a, core.time + F.STEPS)
            counts = core.run(x).s[:, :F.ERR_CLASSES].sum(0)
            np.testing.assert_array_equal(dev.read_counts(), counts)
            preds.append(dev.predict())
            want.append(int(np.argmax(counts)) if counts.max() > 0 else -1)
        np.testing.assert_array_equal(dev.read_weights(0).reshape(-1),
                                      F.artifact_order(art, 0, core.weights(0)).reshape(-1))
        assert dev.info().step == core.time
    assert preds == want
    assert np.mean(np.asarray(preds) == np.asarray(test_c)) >= 0.9
