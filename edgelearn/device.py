"""The host client of edgelearn firmware: :class:`Device` talks ``docs/protocol.md`` over any
byte stream pyserial can open.

``url`` is anything :func:`serial.serial_for_url` accepts: a pty path (``/dev/pts/5``), a real
port (``/dev/ttyUSB0``) or ``socket://127.0.0.1:PORT`` (the emulator's TCP port, or QEMU's
UART). Every read has a timeout; a request that is not answered in time is sent again with the
same sequence number (the device answers a repeat from its cache without executing it twice,
so retries are safe); a broken link is reopened. Use it as a context manager::

    with Device("socket://127.0.0.1:7000") as dev:
        dev.load(Path("model.elm").read_bytes())
        dev.learn(True)
        dev.label(3)
        dev.stream(t, addr, n_steps=100)
        print(dev.predict(), dev.read_counts())

Events are ``(t, addr)`` pairs: ``t`` the absolute timestep at which input axon ``addr`` spikes
(row ``t`` of a raster; the first step of a fresh model is ``t = 0``). :func:`map_events` turns
sensor events ``(t_us, x, y, p)`` into such pairs with an artifact's input map.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Iterable, Sequence

import numpy as np

from . import protocol as P
from .artifact import Artifact, InputMap, from_bytes

__all__ = ["Device", "DeviceTimeout", "LinkError", "map_events", "rule_param_ids"]


class LinkError(P.ProtocolError):
    """The link could not be opened or reopened."""


class DeviceTimeout(P.ProtocolError):
    """A request got no answer after every retry."""


def rule_param_ids(art: Artifact) -> list[tuple[int, int, str, int]]:
    """The RULE numbering of an artifact's hyperparameters: ``(id, connection, field, index)``
    with ``field`` one of ``coef, decay, impulse, gate`` (as in :class:`edgelearn.rule.Hyper`),
    plastic connections in order, each rule's fields in that order."""
    out: list[tuple[int, int, str, int]] = []
    for k, c in enumerate(art.network.connections):
        if not c.plastic:
            continue
        h = c.rule.hyper()
        for name in ("coef", "decay", "impulse", "gate"):
            for i in range(len(getattr(h, name))):
                out.append((len(out), k, name, i))
    return out


def map_events(events: np.ndarray, input_map: InputMap, *, t0_us: int | None = None
               ) -> tuple[np.ndarray, np.ndarray]:
    """Sensor events (a structured array with fields ``t`` (us), ``x``, ``y``, ``p``) as
    ``(t, addr)`` for EVENTS: ``t = (t_us - t0_us) // dt_us``, ``addr`` the input axon of
    ``docs/artifact.md``; events outside the map's window, or before ``t0_us``, are dropped.
    ``t0_us`` defaults to the earliest event's time, as :func:`edgelearn.events.bin_events`
    does (the events need not be time-sorted). A step past 2^32 - 1 (the wire's u32 timestep)
    is refused with ``ValueError`` rather than wrapped."""
    m = input_map
    ts = np.asarray(events["t"], np.int64)
    if t0_us is None:
        t0_us = int(ts.min()) if len(ts) else 0
    t = (ts - t0_us) // m.dt_us
    x = np.asarray(events["x"], np.int64) - m.x0
    y = np.asarray(events["y"], np.int64) - m.y0
    # any nonzero polarity is ON, as AddressMap has it
    p = (np.asarray(events["p"]) != 0).astype(np.int64) if m.polarities == 2 else np.zeros_like(x)
    ok = (t >= 0) & (x >= 0) & (y >= 0)
    qx, qy = x >> m.shift, y >> m.shift
    ok &= (qx < m.width) & (qy < m.height)
    if ok.any() and int(t[ok].max()) > 0xFFFFFFFF:
        raise ValueError(f"event at step {int(t[ok].max())} (t0_us={t0_us}, dt_us={m.dt_us}) "
                         f"is past the u32 timestep of the wire; pass a later t0_us")
    addr = (p * m.height + qy) * m.width + qx
    order = np.argsort(t[ok], kind="stable")
    return t[ok][order].astype(np.uint32), addr[ok][order].astype(np.uint32)


@dataclasses.dataclass
class StreamResult:
    """What :meth:`Device.stream` did: events sent and consumed, RUN requests, spikes of the
    output population, the final step."""

    sent: int = 0
    consumed: int = 0
    runs: int = 0
    spikes: int = 0
    step: int = 0


class Device:
    """A device on a serial link (see the module docstring).

    Args:
        url: pty path, ``/dev/ttyUSB0`` or ``socket://127.0.0.1:PORT``.
        timeout: seconds to wait for each answer before resending (RUN adds its own time).
        retries: sends of one request before :class:`DeviceTimeout`.
        baudrate: for real serial ports (ignored by ptys and sockets).
        open_timeout: seconds to keep trying to open the link.
    """

    def __init__(self, url: str, *, timeout: float = 1.0, retries: int = 5,
                 baudrate: int = 115200, open_timeout: float = 5.0) -> None:
        self.url = url
        self.timeout = float(timeout)
        self.retries = int(retries)
        self.baudrate = baudrate
        self.open_timeout = float(open_timeout)
        self._ser = None
        self._rx = P.Receiver()
        self._seq = P.first_seq()
        self._flush = True
        self._info: P.Info | None = None
        self.artifact: Artifact | None = None  #: the artifact this client loaded, if any
        self.stats = {"requests": 0, "resends": 0, "reconnects": 0, "dropped_frames": 0,
                      "bytes_out": 0, "bytes_in": 0}

    # ---- link -----------------------------------------------------------------------------

    def open(self) -> Device:
        import serial

        deadline = time.monotonic() + self.open_timeout
        while True:
            try:
                ser = serial.serial_for_url(self.url, do_not_open=True, timeout=0.02,
                                            write_timeout=self.timeout + 1.0)
                if hasattr(ser, "baudrate") and not self.url.startswith("socket://"):
                    ser.baudrate = self.baudrate
                ser.open()
                sock = getattr(ser, "_socket", None)  # socket://: no Nagle delay on requests
                if sock is not None:
                    import socket

                    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                break
            except (serial.SerialException, OSError, ValueError) as e:
                if time.monotonic() > deadline:
                    raise LinkError(f"cannot open {self.url}: {e}") from None
                time.sleep(0.05)
        self._ser = ser
        self._rx = P.Receiver()
        self._flush = True
        return self

    def close(self) -> None:
        ser, self._ser = self._ser, None
        if ser is None:
            return
        sock = getattr(ser, "_socket", None)
        if sock is not None:  # socket://: close it here; pyserial's close() sleeps 0.3 s
            try:
                sock.close()
            finally:
                ser._socket = None
                ser.is_open = False
        else:
            ser.close()

    def reconnect(self) -> None:
        """Close and reopen the link (sequence numbers go on, so a resent request is still
        recognised by the device)."""
        self.close()
        self.stats["reconnects"] += 1
        self.open()

    def __enter__(self) -> Device:
        if self._ser is None:
            self.open()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---- requests -------------------------------------------------------------------------

    def _write(self, data: bytes) -> None:
        assert self._ser is not None
        self._ser.write(data)
        self.stats["bytes_out"] += len(data)

    def request(self, msg: P.Message, *, timeout: float | None = None) -> P.Message:
        """Send one request and return its response message; an ERROR frame raises
        :class:`protocol.DeviceError`. Resends on timeout (same seq) and reopens a broken link."""
        import serial

        if self._ser is None:
            self.open()
        seq = self._seq
        self._seq = P.next_seq(seq)
        wire = P.encode_message(msg, seq)
        want = msg.TYPE | P.RESPONSE
        wait = self.timeout if timeout is None else timeout
        self.stats["requests"] += 1
        for attempt in range(self.retries):
            if attempt:
                self.stats["resends"] += 1
            try:
                self._write((b"\x00" if self._flush else b"") + wire)
                self._flush = False
                deadline = time.monotonic() + wait
                resend = False
                while not resend and time.monotonic() < deadline:
                    assert self._ser is not None
                    data = self._ser.read(max(1, self._ser.in_waiting))
                    self.stats["bytes_in"] += len(data)
                    if not data:
                        continue
                    for item in self._rx.feed(data):
                        if isinstance(item, P.FrameError):
                            self.stats["dropped_frames"] += 1
                            continue
                        if item.type == P.MsgType.ERROR and item.seq == P.SEQ_UNATTRIBUTED:
                            resend = True  # the device lost a frame: ours, most likely
                            continue
                        if item.seq != seq:
                            continue  # a late answer to an earlier request
                        reply = P.decode_message(item)
                        if isinstance(reply, P.Error):
                            raise reply.exception(seq)
                        if item.type != want:
                            raise P.ProtocolError(
                                f"answer of type 0x{item.type:02x} to request 0x{msg.TYPE:02x}")
                        return reply
                if not resend:
                    self._flush = True
            except (serial.SerialException, OSError):
                try:
                    self.reconnect()
                except LinkError:
                    if attempt == self.retries - 1:
                        raise
        raise DeviceTimeout(f"no answer from {self.url} to {type(msg).__name__} (seq {seq}) "
                            f"after {self.retries} tries of {wait:.2f} s")

    # ---- high level -----------------------------------------------------------------------

    def info(self) -> P.Info:
        """Versions, capabilities, limits and state of the device."""
        self._info = self.request(P.InfoRequest())  # type: ignore[assignment]
        return self._info  # type: ignore[return-value]

    def _limits(self) -> P.Info:
        return self._info if self._info is not None else self.info()

    def ping(self, data: bytes = b"") -> float:
        """Round trip of a PING carrying ``data``, in seconds (checks the echo)."""
        t = time.perf_counter()
        back = self.request(P.Ping(bytes(data)))
        if back.data != bytes(data):  # type: ignore[attr-defined]
            raise P.ProtocolError("PING echo differs")
        return time.perf_counter() - t

    def load(self, data: bytes, *, progress: Callable[[int, int], None] | None = None
             ) -> P.LoadCommitOk:
        """Send an artifact (the bytes of a ``.elm`` file) in chunks and commit it; the device
        verifies it before it replaces the running model. ``progress(sent, total)`` is called
        after each chunk."""
        data = bytes(data)
        try:
            self.artifact = from_bytes(data)
        except ValueError:
            self.artifact = None  # the device will say what is wrong with it
        if self.artifact is not None and any(
                p.third_from is not None for p in self.artifact.network.populations) and not (
                self._limits().caps & P.CAP_COMPUTED_THIRD):
            raise ValueError("this artifact computes third factors from designated neurons "
                             "(docs/spec.md 5.3), which this device's firmware does not do "
                             "(INFO caps lack COMPUTED_THIRD): update the firmware")
        begin = self.request(P.LoadBegin(len(data), P.crc32(data)))
        chunk = min(begin.chunk_max, self._limits().max_payload - P.LOAD_CHUNK_HEAD_BYTES)  # type: ignore[attr-defined]
        off = 0
        while off < len(data):
            try:
                r = self.request(P.LoadChunk(off, data[off:off + chunk]))
                off = r.next_offset  # type: ignore[attr-defined]
            except P.DeviceError as e:
                if e.status != P.Status.E_OFFSET:
                    raise
                off = e.detail  # resume where the device is
            if progress is not None:
                progress(off, len(data))
        return self.request(P.LoadCommit(), timeout=self.timeout + 5.0)  # type: ignore[return-value]

    def set_rule(self, params: dict[int, int] | Iterable[tuple[int, int]]) -> int:
        """New hyperparameter values ``{id: value}`` (ids: :func:`rule_param_ids`), applied all
        or none. Returns the number applied."""
        items = tuple(sorted(params.items())) if isinstance(params, dict) else tuple(params)
        return self.request(P.Rule(tuple((int(i), int(v)) for i, v in items))).applied  # type: ignore[attr-defined]

    def events(self, t: Sequence[int] | np.ndarray, addr: Sequence[int] | np.ndarray
               ) -> P.EventsOk:
        """Queue events (``t`` non-decreasing, at most the free credits; batches of 127).
        Raises ``DeviceError`` E_BUSY (nothing of that batch queued) when the queue is full."""
        t = np.asarray(t, np.uint32)
        addr = np.asarray(addr, np.uint32)
        last = P.EventsOk(0, 0, 0)
        for i in range(0, max(len(t), 1), P.EVENTS_MAX):
            batch = tuple(zip(t[i:i + P.EVENTS_MAX].tolist(), addr[i:i + P.EVENTS_MAX].tolist(),
                              strict=True))
            last = self.request(P.Events(batch))  # type: ignore[assignment]
        return last

    def run(self, steps: int) -> P.RunOk:
        """Advance ``steps`` timesteps (queued events are input at their step)."""
        return self.request(P.Run(int(steps)), timeout=self.timeout + steps * 1e-3)  # type: ignore[return-value]

    def stream(self, t: Sequence[int] | np.ndarray, addr: Sequence[int] | np.ndarray,
               n_steps: int) -> StreamResult:
        """Input a whole event stream and run until step ``n_steps`` (absolute), with flow
        control: events go in windows of timesteps that fit the device's queue, each followed
        by a RUN to the window's end; no event is dropped (the result counts them). Events
        must lie in ``[device step, n_steps)``: ``ValueError`` otherwise (``t`` is absolute: a
        second sample mapped from step 0 is shifted by the device's step)."""
        t = np.asarray(t, np.int64)
        addr = np.asarray(addr, np.int64)
        if t.shape != addr.shape or t.ndim != 1:
            raise ValueError(f"t and addr must be 1-D of one length, got shapes {t.shape} "
                             f"and {addr.shape}")
        if len(t) and np.any(np.diff(t) < 0):
            raise ValueError("t must be non-decreasing")
        cap = self._limits().event_queue
        max_run = self._limits().max_run_steps
        res = StreamResult()
        step = self.info().step
        if len(t) and (t[0] < step or t[-1] >= n_steps):
            raise ValueError(f"events at steps {int(t[0])}..{int(t[-1])} are outside "
                             f"[{step}, {n_steps}): the device is at step {step} and the "
                             f"stream ends at n_steps = {n_steps}")
        i, n = 0, len(t)
        while step < n_steps:
            j, end = i, n_steps  # the next window: whole timesteps of events that fit the queue
            while j < n and t[j] < n_steps:
                k = int(np.searchsorted(t, t[j], side="right"))
                if k - i > cap:
                    break
                j, end = k, int(t[k - 1]) + 1
            if j == i and i < n and t[i] < n_steps:
                raise ValueError(f"{int(np.sum(t == t[i]))} events at step {int(t[i])} exceed "
                                 f"the device's queue of {cap}")
            if j > i:
                self.events(t[i:j], addr[i:j])
                res.sent += j - i
                i = j
            while step < end:
                r = self.run(min(end - step, max_run))
                res.runs += 1
                res.consumed += r.events_consumed
                res.spikes += r.spikes
                step = r.step
        res.step = step
        if self._info is not None:
            self._info = dataclasses.replace(self._info, step=step)
        return res

    def _pop(self, population: int | None) -> int:
        if population is not None:
            return int(population)
        if self.artifact is not None and self.artifact.readout is not None:
            return self.artifact.readout.population
        if self.artifact is not None:
            return len(self.artifact.network.populations) - 1
        raise ValueError("population is needed (this client did not load the artifact)")

    def label(self, cls: int, *, population: int | None = None) -> None:
        """Third factor from a label: the readout's r_pos for class ``cls``, r_neg for the
        others (``-1`` clears)."""
        self.request(P.Label(self._pop(population), int(cls)))

    def third(self, r: int, *, population: int | None = None) -> None:
        """Third factor ``r`` (REWARD) for every neuron of the population."""
        self.request(P.Reward(self._pop(population), int(r)))

    def learn(self, on: bool) -> bool:
        """Switch learning on or off; returns the previous setting."""
        return bool(self.request(P.Learn(int(bool(on)))).previous)  # type: ignore[attr-defined]

    def _read(self, what: int, index: int) -> list[int]:
        out: list[int] = []
        while True:
            r = self.request(P.Read(what, 0, index, len(out), 0xFFFF))
            out.extend(r.values)  # type: ignore[attr-defined]
            if not r.values or len(out) >= r.total:  # type: ignore[attr-defined]
                return out

    def read_counts(self, *, population: int | None = None, clear: bool = False) -> np.ndarray:
        """Spike counts of each neuron of the population since the last clear (u32)."""
        pop = self._pop(population)
        vals = self._read(P.READ_SPIKES, pop)
        if clear:
            self.request(P.Read(P.READ_SPIKES, P.READ_FLAG_CLEAR, pop, 0, 1))
        return np.asarray(vals, np.uint32)

    def predict(self, *, population: int | None = None) -> int:
        """The class with the most spikes since the last clear (ties: lowest), -1 if none."""
        return int(self._read(P.READ_PREDICTION, self._pop(population))[0])

    def read_weights(self, k: int) -> np.ndarray:
        """Connection ``k``'s weight mantissas in the artifact's order (learned ones for plastic
        connections): ``(n_dst, n_src)`` for a dense connection when this client loaded the
        artifact, else the flat values (CSR order for sparse)."""
        w = np.asarray(self._read(P.READ_WEIGHTS, int(k)), np.int8)
        if self.artifact is not None:
            c = self.artifact.network.connections[int(k)]
            if not c.sparse:
                return w.reshape(np.asarray(c.weights).shape)
        return w

    def save(self) -> tuple[int, int]:
        """Write the model and its learned weights to flash: ``(generation, slot)``."""
        r = self.request(P.Save(), timeout=self.timeout + 10.0)
        return r.generation, r.slot  # type: ignore[attr-defined]

    def restore(self) -> tuple[int, int]:
        """Load the newest saved model: ``(generation, slot)``."""
        r = self.request(P.Restore(), timeout=self.timeout + 10.0)
        return r.generation, r.slot  # type: ignore[attr-defined]

    def reset(self, *, model: bool = False) -> None:
        """Clear the state (``model=True``: also unload the model)."""
        self.request(P.Reset(P.RESET_MODEL if model else P.RESET_STATE))
        self._info = None
