"""The serial protocol, host side: framing, messages and a byte-at-a-time receiver.

This is the Python twin of the C codec in ``csrc/el_proto.{h,c}``; ``docs/protocol.md`` is the
specification both follow, and ``tests/vectors/protocol_frames.json`` (made from this module by
``tests/vectors/make_protocol_frames.py``) holds the golden frames both are tested with.

A frame on the wire is ``COBS(header | payload | crc) 0x00``:

- header (6 bytes, little-endian): ``version`` u8, ``type`` u8, ``seq`` u16, ``len`` u16;
- payload: ``len`` bytes (0 .. :data:`MAX_PAYLOAD`), laid out per message type;
- crc: CRC-32/ISO-HDLC (``zlib.crc32``) of header and payload, u32 little-endian.

The module works without the compiled extension. Its constants mirror C's by hand, so
``tests/test_protocol.py`` compares every entry of :data:`ALL` with the C value through cffi.

Typical use::

    wire = encode_message(Run(steps=10), seq=7)
    rx = Receiver()
    for item in rx.feed(wire):          # frames, or FrameError instances for bad input
        msg = decode_message(item)      # -> Run(steps=10)
"""

from __future__ import annotations

import enum
import secrets
import struct
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, fields
from typing import ClassVar

# ---- sizes and limits (C: el_proto.h) -----------------------------------------------------

VERSION = 1
HEADER_BYTES = 6
CRC_BYTES = 4
MAX_PAYLOAD = 1024
MAX_FRAME = HEADER_BYTES + MAX_PAYLOAD + CRC_BYTES
DELIMITER = 0x00
CRC_CHECK = 0xCBF43926
SEQ_UNATTRIBUTED = 0
RESPONSE = 0x80


def cobs_bound(n: int) -> int:
    """Upper bound of the COBS encoding of ``n`` bytes (C: ``EL_PROTO_COBS_BOUND``)."""
    return n + n // 254 + 1


def wire_bound(payload_len: int) -> int:
    """Most wire bytes of a frame with a ``payload_len``-byte payload, delimiter included."""
    return cobs_bound(HEADER_BYTES + payload_len + CRC_BYTES) + 1


MAX_WIRE = wire_bound(MAX_PAYLOAD)


class MsgType(enum.IntEnum):
    """Message types. A response is its request's type | :data:`RESPONSE`."""

    PING = 0x01
    INFO = 0x02
    RESET = 0x03
    LOAD_BEGIN = 0x10
    LOAD_CHUNK = 0x11
    LOAD_COMMIT = 0x12
    RULE = 0x20
    EVENTS = 0x30
    RUN = 0x31
    LABEL = 0x32
    REWARD = 0x33
    LEARN = 0x34
    READ = 0x40
    SAVE = 0x50
    RESTORE = 0x51
    ERROR = 0xFF


REQUEST_TYPES = tuple(t for t in MsgType if t != MsgType.ERROR)

# payload sizes (C: EL_MSG_*_BYTES)
INFO_RESP_BYTES = 44
RESET_BYTES = 4
LOAD_BEGIN_BYTES = 12
LOAD_BEGIN_RESP_BYTES = 8
LOAD_CHUNK_HEAD_BYTES = 4
LOAD_CHUNK_MAX_DATA = MAX_PAYLOAD - LOAD_CHUNK_HEAD_BYTES
LOAD_CHUNK_RESP_BYTES = 4
LOAD_COMMIT_RESP_BYTES = 8
RULE_HEAD_BYTES = 4
RULE_ENTRY_BYTES = 6
RULE_MAX_ENTRIES = (MAX_PAYLOAD - RULE_HEAD_BYTES) // RULE_ENTRY_BYTES
RULE_RESP_BYTES = 4
EVENTS_HEAD_BYTES = 4
EVENT_BYTES = 8
EVENTS_MAX = (MAX_PAYLOAD - EVENTS_HEAD_BYTES) // EVENT_BYTES
EVENTS_RESP_BYTES = 12
RUN_BYTES = 4
RUN_RESP_BYTES = 16
THIRD_BYTES = 8
LEARN_BYTES = 4
LEARN_RESP_BYTES = 4
READ_BYTES = 12
READ_RESP_HEAD_BYTES = 16
READ_MAX_DATA = MAX_PAYLOAD - READ_RESP_HEAD_BYTES
SLOT_RESP_BYTES = 8
ERROR_BYTES = 8

# INFO capability bits (C: EL_CAP_*)
CAP_LOAD = 0x01
CAP_LEARN = 0x02
CAP_FLASH = 0x04
CAP_READ_WEIGHTS = 0x08
CAP_RULE = 0x10
CAP_LABEL = 0x20
CAP_REWARD = 0x40
CAP_COMPUTED_THIRD = 0x80  # third factors computed by designated neurons (spec 5.3)

# RESET modes (C: EL_RESET_*)
RESET_STATE = 0
RESET_MODEL = 1

# READ selectors and flags (C: EL_READ_*)
READ_SPIKES = 1
READ_PREDICTION = 2
READ_WEIGHTS = 3
READ_FLAG_CLEAR = 0x01
#: element format of each READ selector (struct code; its size is the wire's elem_size)
READ_ELEM = {READ_SPIKES: "I", READ_PREDICTION: "i", READ_WEIGHTS: "b"}


class Status(enum.IntEnum):
    """Status codes (C: ``el_proto_status_t``), also the status field of ERROR frames.

    1 .. 31 are the runtime's common codes (``el_status.h``), 32 .. 63 the protocol's block.
    An ERROR frame may also carry an artifact reader's code (96 .. 127).
    """

    OK = 0
    ERR_NULL = 1
    ERR_RANGE = 2
    ERR_SIZE = 3
    ERR_UNSUPPORTED = 5
    ERR_STATE = 6
    E_COBS = 32
    E_CRC = 33
    E_SHORT = 34
    E_OVERSIZE = 35
    E_LENGTH = 36
    E_VERSION = 37
    E_TYPE = 38
    E_PAYLOAD = 39
    E_SEQ = 40
    E_BUSY = 41
    E_OFFSET = 42
    E_ARTIFACT_CRC = 43
    E_INCOMPLETE = 44
    E_TOO_BIG = 45
    E_NO_MODEL = 46
    E_FLASH = 47
    E_NO_SAVE = 48


#: C's name (``el_status_name``) of every status code the runtime defines. An ERROR frame's
#: status is one of :class:`Status` (1 .. 63) or an artifact reader's code (96 .. 127,
#: ``el_artifact_status_t``, when LOAD_COMMIT or RESTORE refuses an image); a code of the core
#: or of the rule microcode (64 .. 95, ``el_status.h``) arrives only as the detail of
#: ``EL_ART_E_NETWORK`` (docs/protocol.md).
STATUS_NAMES: dict[int, str] = dict(sorted({
    **{int(s): f"EL_{s.name}" if s < 32 else f"EL_PROTO_{s.name}" for s in Status},
    4: "EL_ERR_ALIGN",
    7: "EL_ERR_FORMAT",
    64: "EL_ERR_RULE_MAGIC",
    65: "EL_ERR_RULE_VERSION",
    66: "EL_ERR_RULE_TRUNCATED",
    67: "EL_ERR_RULE_FIELD",
    68: "EL_ERR_RULE_WIDTH",
    69: "EL_ERR_RULE_TRAILING",
    70: "EL_ERR_RULE_STRUCTURE",
    96: "EL_ART_E_MAGIC",
    97: "EL_ART_E_VERSION",
    98: "EL_ART_E_HEADER_CRC",
    99: "EL_ART_E_TRUNCATED",
    100: "EL_ART_E_TRAILING",
    101: "EL_ART_E_CRC",
    102: "EL_ART_E_SECTION",
    103: "EL_ART_E_NO_NETWORK",
    104: "EL_ART_E_NETWORK",
    105: "EL_ART_E_INPUT_MAP",
    106: "EL_ART_E_READOUT",
    107: "EL_ART_E_ALIGN",
}.items()))


def status_name(status: int) -> str:
    """C's name of a status code (``el_status_name``), e.g. ``"EL_PROTO_E_BUSY"`` or
    ``"EL_ART_E_CRC"``; ``"EL_ERR_UNKNOWN"`` for a value the runtime does not define."""
    return STATUS_NAMES.get(int(status), "EL_ERR_UNKNOWN")


# Allowed payload lengths per type: (min, max, step); C: len_rules in el_proto.c.
_R = RESPONSE
LEN_RULES: dict[int, tuple[int, int, int]] = {
    MsgType.PING: (0, MAX_PAYLOAD, 1),
    MsgType.PING | _R: (0, MAX_PAYLOAD, 1),
    MsgType.INFO: (0, 0, 1),
    MsgType.INFO | _R: (INFO_RESP_BYTES, INFO_RESP_BYTES, 1),
    MsgType.RESET: (RESET_BYTES, RESET_BYTES, 1),
    MsgType.RESET | _R: (0, 0, 1),
    MsgType.LOAD_BEGIN: (LOAD_BEGIN_BYTES, LOAD_BEGIN_BYTES, 1),
    MsgType.LOAD_BEGIN | _R: (LOAD_BEGIN_RESP_BYTES, LOAD_BEGIN_RESP_BYTES, 1),
    MsgType.LOAD_CHUNK: (LOAD_CHUNK_HEAD_BYTES + 1, MAX_PAYLOAD, 1),
    MsgType.LOAD_CHUNK | _R: (LOAD_CHUNK_RESP_BYTES, LOAD_CHUNK_RESP_BYTES, 1),
    MsgType.LOAD_COMMIT: (0, 0, 1),
    MsgType.LOAD_COMMIT | _R: (LOAD_COMMIT_RESP_BYTES, LOAD_COMMIT_RESP_BYTES, 1),
    MsgType.RULE: (
        RULE_HEAD_BYTES + RULE_ENTRY_BYTES,
        RULE_HEAD_BYTES + RULE_ENTRY_BYTES * RULE_MAX_ENTRIES,
        RULE_ENTRY_BYTES,
    ),
    MsgType.RULE | _R: (RULE_RESP_BYTES, RULE_RESP_BYTES, 1),
    MsgType.EVENTS: (EVENTS_HEAD_BYTES, EVENTS_HEAD_BYTES + EVENT_BYTES * EVENTS_MAX, EVENT_BYTES),
    MsgType.EVENTS | _R: (EVENTS_RESP_BYTES, EVENTS_RESP_BYTES, 1),
    MsgType.RUN: (RUN_BYTES, RUN_BYTES, 1),
    MsgType.RUN | _R: (RUN_RESP_BYTES, RUN_RESP_BYTES, 1),
    MsgType.LABEL: (THIRD_BYTES, THIRD_BYTES, 1),
    MsgType.LABEL | _R: (0, 0, 1),
    MsgType.REWARD: (THIRD_BYTES, THIRD_BYTES, 1),
    MsgType.REWARD | _R: (0, 0, 1),
    MsgType.LEARN: (LEARN_BYTES, LEARN_BYTES, 1),
    MsgType.LEARN | _R: (LEARN_RESP_BYTES, LEARN_RESP_BYTES, 1),
    MsgType.READ: (READ_BYTES, READ_BYTES, 1),
    MsgType.READ | _R: (READ_RESP_HEAD_BYTES + 1, MAX_PAYLOAD, 1),
    MsgType.SAVE: (0, 0, 1),
    MsgType.SAVE | _R: (SLOT_RESP_BYTES, SLOT_RESP_BYTES, 1),
    MsgType.RESTORE: (0, 0, 1),
    MsgType.RESTORE | _R: (SLOT_RESP_BYTES, SLOT_RESP_BYTES, 1),
    MsgType.ERROR: (ERROR_BYTES, ERROR_BYTES, 1),
}
del _R


def _all_constants() -> dict[str, int]:
    out: dict[str, int] = {
        "EL_PROTO_VERSION": VERSION,
        "EL_PROTO_HEADER_BYTES": HEADER_BYTES,
        "EL_PROTO_CRC_BYTES": CRC_BYTES,
        "EL_PROTO_MAX_PAYLOAD": MAX_PAYLOAD,
        "EL_PROTO_MAX_FRAME": MAX_FRAME,
        "EL_PROTO_MAX_WIRE": MAX_WIRE,
        "EL_PROTO_DELIMITER": DELIMITER,
        "EL_PROTO_CRC_CHECK": CRC_CHECK,
        "EL_PROTO_SEQ_UNATTRIBUTED": SEQ_UNATTRIBUTED,
        "EL_MSG_RESPONSE": RESPONSE,
    }
    out.update({f"EL_MSG_{t.name}": int(t) for t in MsgType})
    for name, value in globals().items():
        if name.endswith("_BYTES") and name not in ("HEADER_BYTES", "CRC_BYTES"):
            out[f"EL_MSG_{name}"] = value
        elif name in ("LOAD_CHUNK_MAX_DATA", "RULE_MAX_ENTRIES", "EVENTS_MAX", "READ_MAX_DATA"):
            out[f"EL_MSG_{name}"] = value
        elif name.startswith(("CAP_", "RESET_", "READ_")) and isinstance(value, int):
            out[f"EL_{name}"] = value
    out.update({f"EL_PROTO_{s.name}": int(s) for s in Status})
    return out


#: Every protocol constant under its C name, for the C comparison test.
ALL: dict[str, int] = _all_constants()


# ---- errors --------------------------------------------------------------------------------


class ProtocolError(Exception):
    """A protocol problem; ``status`` is the code the C codec reports for the same input."""

    status: Status = Status.ERR_STATE


class FrameError(ProtocolError):
    """The receiver dropped a frame. ``header`` is its (trusted) header when the CRC was good."""

    def __init__(self, message: str, header: Frame | None = None) -> None:
        super().__init__(message)
        self.header = header


class CobsError(FrameError):
    status = Status.E_COBS


class ShortFrameError(FrameError):
    status = Status.E_SHORT


class CrcError(FrameError):
    status = Status.E_CRC


class OversizeError(FrameError):
    status = Status.E_OVERSIZE


class LengthError(FrameError):
    status = Status.E_LENGTH


class VersionError(FrameError):
    status = Status.E_VERSION


class UnknownTypeError(FrameError):
    status = Status.E_TYPE


class PayloadError(ProtocolError, ValueError):
    """A payload's size or reserved bytes are wrong for its type."""

    status = Status.E_PAYLOAD


class FieldRangeError(ProtocolError, ValueError):
    """A message field is outside its documented range."""

    status = Status.ERR_RANGE


class DeviceError(ProtocolError):
    """The device answered with an ERROR frame; ``name`` is its status's C name."""

    def __init__(self, status: int, request_type: int, detail: int, seq: int) -> None:
        name = status_name(status)
        super().__init__(
            f"device error {name} ({status}) for request type 0x{request_type:02x} "
            f"seq {seq}, detail {detail}"
        )
        self.status = status  # type: ignore[assignment]
        self.name = name  # C's name of the status, e.g. "EL_ART_E_CRC" (status_name)
        self.request_type = request_type
        self.detail = detail
        self.seq = seq


# ---- CRC and COBS --------------------------------------------------------------------------


def crc32(data: bytes, crc: int = 0) -> int:
    """CRC-32/ISO-HDLC, chained like zlib (C: ``el_crc32``)."""
    return zlib.crc32(data, crc) & 0xFFFFFFFF


def cobs_encode(data: bytes) -> bytes:
    """COBS-encode ``data`` (no delimiter). Canonical: no 0x01 code after a final full block.

    Each run of non-zero bytes between zeros becomes blocks of at most 254 bytes, each led by
    its length + 1; a zero closes a block with a code below 0xFF (0x01 after a full block).
    """
    out = bytearray()
    runs = bytes(data).split(b"\x00")
    last = len(runs) - 1
    for k, run in enumerate(runs):
        n, i = len(run), 0
        while n - i >= 254:  # full blocks: no zero follows them implicitly
            out.append(0xFF)
            out += run[i : i + 254]
            i += 254
        if k < last or n == 0 or n % 254:  # a block for the rest (and for the zero after it)
            out.append(n - i + 1)
            out += run[i:]
    return bytes(out)


def cobs_decode(data: bytes) -> bytes:
    """Decode COBS data (no delimiter); raises :class:`CobsError` (C: ``el_cobs_decode``)."""
    out = bytearray()
    i, n = 0, len(data)
    while i < n:
        code = data[i]
        i += 1
        if code == 0:
            raise CobsError("COBS: zero byte inside a frame")
        block = data[i : i + code - 1]
        if len(block) != code - 1 or 0 in block:
            raise CobsError("COBS: block runs past the end of the frame")
        out += block
        i += code - 1
        if code < 0xFF and i < n:
            out.append(0)
    return bytes(out)


# ---- frames --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Frame:
    """A received frame's header and payload."""

    type: int
    seq: int
    payload: bytes = b""
    version: int = VERSION
    crc: int = 0

    @property
    def is_response(self) -> bool:
        return self.type != MsgType.ERROR and bool(self.type & RESPONSE)


def encode_frame(msg_type: int, seq: int, payload: bytes = b"", *, version: int = VERSION) -> bytes:
    """The wire bytes of one frame: ``COBS(header | payload | crc) 0x00``.

    ``version`` exists so tests can build frames of other versions; leave it alone otherwise.
    """
    if len(payload) > MAX_PAYLOAD:
        raise FieldRangeError(f"payload of {len(payload)} bytes exceeds MAX_PAYLOAD {MAX_PAYLOAD}")
    for name, value, hi in (
        ("version", version, 0xFF),
        ("type", msg_type, 0xFF),
        ("seq", seq, 0xFFFF),
    ):
        if not 0 <= value <= hi:
            raise FieldRangeError(f"{name} {value} outside 0 .. {hi}")
    raw = struct.pack("<BBHH", version, msg_type, seq, len(payload)) + bytes(payload)
    raw += struct.pack("<I", crc32(raw))
    return cobs_encode(raw) + bytes([DELIMITER])


def check_len(msg_type: int, length: int) -> None:
    """Raise unless ``length`` is an allowed payload size for ``msg_type`` (C: el_msg_check_len)."""
    rule = LEN_RULES.get(msg_type)
    if rule is None:
        raise UnknownTypeError(f"unknown message type 0x{msg_type:02x}")
    lo, hi, step = rule
    if not (lo <= length <= hi and (length - lo) % step == 0):
        raise PayloadError(
            f"payload of {length} bytes is not allowed for type 0x{msg_type:02x} "
            f"({lo} .. {hi} in steps of {step})"
        )


class Receiver:
    """Byte-at-a-time frame receiver, the twin of C's ``el_rx_t`` (same states, same errors).

    :meth:`push` returns a :class:`Frame` when one completes, else ``None``, and raises a
    :class:`FrameError` subclass for a bad frame after dropping it; the receiver has then already
    resynchronised (it waits for the next 0x00 after an oversize frame, else starts afresh).
    Empty frames are ignored, so a sender may emit 0x00 at any time to flush.
    """

    _IDLE, _FRAME, _DISCARD = 0, 1, 2

    def __init__(self) -> None:
        self.frames = 0
        self.errors = 0
        self._restart()

    def _restart(self) -> None:
        self._buf = bytearray()
        self._state = self._IDLE
        self._remaining = 0
        self._zero_pending = False

    def _fail(self, err: FrameError) -> FrameError:
        self.errors += 1
        return err

    def push(self, byte: int) -> Frame | None:
        if byte == DELIMITER:
            return self._end()
        if self._state == self._DISCARD:
            return None
        self._state = self._FRAME
        if self._remaining == 0:  # a code byte
            if self._zero_pending:
                self._append(0)
            self._remaining = byte - 1
            self._zero_pending = byte != 0xFF
            return None
        self._append(byte)
        self._remaining -= 1
        return None

    def _append(self, b: int) -> None:
        if len(self._buf) >= MAX_FRAME:
            self._state = self._DISCARD
            raise self._fail(OversizeError(f"frame longer than MAX_FRAME ({MAX_FRAME} bytes)"))
        self._buf.append(b)

    def _end(self) -> Frame | None:
        state, buf, remaining = self._state, bytes(self._buf), self._remaining
        self._restart()
        if state != self._FRAME:
            return None
        if remaining != 0:
            raise self._fail(CobsError("frame ended inside a COBS block (truncated frame)"))
        n = len(buf)
        if n < HEADER_BYTES + CRC_BYTES:
            raise self._fail(ShortFrameError(f"frame of {n} bytes is shorter than header + CRC"))
        (crc,) = struct.unpack_from("<I", buf, n - CRC_BYTES)
        if crc32(buf[: n - CRC_BYTES]) != crc:
            raise self._fail(CrcError("CRC mismatch"))
        version, msg_type, seq, length = struct.unpack_from("<BBHH", buf)
        header = Frame(type=msg_type, seq=seq, version=version, crc=crc)
        if version != VERSION:
            raise self._fail(VersionError(f"unknown protocol version {version}", header))
        if length + HEADER_BYTES + CRC_BYTES != n:
            raise self._fail(
                LengthError(f"header length {length} disagrees with frame of {n} bytes", header)
            )
        if msg_type not in LEN_RULES:
            raise self._fail(UnknownTypeError(f"unknown message type 0x{msg_type:02x}", header))
        self.frames += 1
        return Frame(msg_type, seq, buf[HEADER_BYTES : n - CRC_BYTES], version, crc)

    def feed(self, data: Iterable[int]) -> list[Frame | FrameError]:
        """Push every byte; return the frames and the errors (as instances) in order."""
        out: list[Frame | FrameError] = []
        for b in data:
            try:
                frame = self.push(b)
            except FrameError as err:
                out.append(err)
                continue
            if frame is not None:
                out.append(frame)
        return out


# ---- messages ------------------------------------------------------------------------------


class Message:
    """Base of every message. Fixed layouts are declared by ``_LAYOUT``: (field, struct code)
    pairs in wire order; fields named ``_r*`` are reserved (zero on the wire).
    ``_RANGES`` maps fields to inclusive (lo, hi) ranges checked on encode and decode."""

    TYPE: ClassVar[int]
    _LAYOUT: ClassVar[tuple[tuple[str, str], ...]] = ()
    _RANGES: ClassVar[dict[str, tuple[int, int]]] = {}

    @classmethod
    def _fmt(cls) -> str:
        return "<" + "".join(code for _, code in cls._LAYOUT)

    def _check(self) -> None:
        for name, (lo, hi) in self._RANGES.items():
            value = getattr(self, name)
            if not lo <= value <= hi:
                raise FieldRangeError(
                    f"{type(self).__name__}.{name} = {value} outside {lo} .. {hi}"
                )

    def encode(self) -> bytes:
        """The payload bytes."""
        self._check()
        values = [0 if name.startswith("_r") else getattr(self, name) for name, _ in self._LAYOUT]
        try:
            return struct.pack(self._fmt(), *values)
        except struct.error as e:
            raise FieldRangeError(f"{type(self).__name__}: {e}") from None

    @classmethod
    def decode(cls, payload: bytes) -> Message:
        """Parse a payload; raises :class:`PayloadError` or :class:`FieldRangeError`."""
        if len(payload) != struct.calcsize(cls._fmt()):
            raise PayloadError(f"{cls.__name__}: payload of {len(payload)} bytes")
        values = struct.unpack(cls._fmt(), payload)
        kw = {}
        for (name, _), value in zip(cls._LAYOUT, values, strict=True):
            if name.startswith("_r"):
                if value != 0:
                    raise PayloadError(f"{cls.__name__}: reserved field is not zero")
            else:
                kw[name] = value
        msg = cls(**kw)
        msg._check()
        return msg

    def flat(self) -> list[int]:
        """All field values as integers in wire order (sequences expanded); for cross-checks."""
        out: list[int] = []
        for f in fields(self):  # type: ignore[arg-type]
            value = getattr(self, f.name)
            if isinstance(value, (bytes, bytearray)):
                out.extend(value)
            elif isinstance(value, tuple):
                for item in value:
                    out.extend(item if isinstance(item, tuple) else (item,))
            else:
                out.append(int(value))
        return out


@dataclass(frozen=True)
class _Empty(Message):
    @classmethod
    def decode(cls, payload: bytes) -> Message:
        if payload:
            raise PayloadError(f"{cls.__name__}: payload of {len(payload)} bytes, expected 0")
        return cls()


@dataclass(frozen=True)
class Ping(Message):
    """PING: any bytes, echoed by :class:`Pong`."""

    TYPE: ClassVar[int] = MsgType.PING
    data: bytes = b""

    def encode(self) -> bytes:
        if len(self.data) > MAX_PAYLOAD:
            raise FieldRangeError(f"{type(self).__name__}.data longer than {MAX_PAYLOAD}")
        return bytes(self.data)

    @classmethod
    def decode(cls, payload: bytes) -> Message:
        check_len(cls.TYPE, len(payload))
        return cls(bytes(payload))


@dataclass(frozen=True)
class Pong(Ping):
    TYPE: ClassVar[int] = MsgType.PING | RESPONSE


@dataclass(frozen=True)
class InfoRequest(_Empty):
    TYPE: ClassVar[int] = MsgType.INFO


@dataclass(frozen=True)
class Info(Message):
    """INFO response: versions, capabilities and limits of the device."""

    TYPE: ClassVar[int] = MsgType.INFO | RESPONSE
    proto_version: int
    fw_major: int
    fw_minor: int
    fw_patch: int
    max_payload: int
    rx_window: int
    caps: int
    event_queue: int
    max_artifact_bytes: int
    max_neurons: int
    max_synapses: int
    ram_bytes: int
    max_run_steps: int
    flash_slots: int
    model_loaded: int
    learning: int
    step: int
    _LAYOUT: ClassVar = (
        ("proto_version", "B"), ("fw_major", "B"), ("fw_minor", "B"), ("fw_patch", "B"),
        ("max_payload", "H"), ("rx_window", "H"), ("caps", "I"), ("event_queue", "I"),
        ("max_artifact_bytes", "I"), ("max_neurons", "I"), ("max_synapses", "I"),
        ("ram_bytes", "I"), ("max_run_steps", "I"), ("flash_slots", "B"),
        ("model_loaded", "B"), ("learning", "B"), ("_r0", "B"), ("step", "I"),
    )  # fmt: skip
    _RANGES: ClassVar = {"model_loaded": (0, 1), "learning": (0, 1)}


@dataclass(frozen=True)
class Reset(Message):
    TYPE: ClassVar[int] = MsgType.RESET
    mode: int = RESET_STATE
    _LAYOUT: ClassVar = (("mode", "B"), ("_r0", "B"), ("_r1", "H"))
    _RANGES: ClassVar = {"mode": (RESET_STATE, RESET_MODEL)}


@dataclass(frozen=True)
class ResetOk(_Empty):
    TYPE: ClassVar[int] = MsgType.RESET | RESPONSE


@dataclass(frozen=True)
class LoadBegin(Message):
    """Start a LOAD: the artifact's size and CRC-32 (of all its bytes)."""

    TYPE: ClassVar[int] = MsgType.LOAD_BEGIN
    total_size: int
    crc: int
    _LAYOUT: ClassVar = (("total_size", "I"), ("crc", "I"), ("_r0", "I"))
    _RANGES: ClassVar = {"total_size": (1, 0xFFFFFFFF)}


@dataclass(frozen=True)
class LoadBeginOk(Message):
    TYPE: ClassVar[int] = MsgType.LOAD_BEGIN | RESPONSE
    total_size: int
    chunk_max: int
    _LAYOUT: ClassVar = (("total_size", "I"), ("chunk_max", "H"), ("_r0", "H"))
    _RANGES: ClassVar = {"chunk_max": (1, LOAD_CHUNK_MAX_DATA)}


@dataclass(frozen=True)
class LoadChunk(Message):
    """Artifact bytes ``data`` at ``offset`` (the next byte the device expects)."""

    TYPE: ClassVar[int] = MsgType.LOAD_CHUNK
    offset: int
    data: bytes

    def encode(self) -> bytes:
        if not 1 <= len(self.data) <= LOAD_CHUNK_MAX_DATA:
            raise FieldRangeError(f"LoadChunk.data of {len(self.data)} bytes")
        if not 0 <= self.offset <= 0xFFFFFFFF:
            raise FieldRangeError(f"LoadChunk.offset = {self.offset}")
        return struct.pack("<I", self.offset) + bytes(self.data)

    @classmethod
    def decode(cls, payload: bytes) -> Message:
        check_len(cls.TYPE, len(payload))
        (offset,) = struct.unpack_from("<I", payload)
        return cls(offset, bytes(payload[LOAD_CHUNK_HEAD_BYTES:]))


@dataclass(frozen=True)
class LoadChunkOk(Message):
    TYPE: ClassVar[int] = MsgType.LOAD_CHUNK | RESPONSE
    next_offset: int
    _LAYOUT: ClassVar = (("next_offset", "I"),)


@dataclass(frozen=True)
class LoadCommit(_Empty):
    TYPE: ClassVar[int] = MsgType.LOAD_COMMIT


@dataclass(frozen=True)
class LoadCommitOk(Message):
    TYPE: ClassVar[int] = MsgType.LOAD_COMMIT | RESPONSE
    total_size: int
    crc: int
    _LAYOUT: ClassVar = (("total_size", "I"), ("crc", "I"))


class _Listed(Message):
    """Messages with a u16 count, a u16 reserved and ``count`` fixed-size entries."""

    _ENTRY: ClassVar[str]
    _MIN: ClassVar[int]
    _MAX: ClassVar[int]

    def _items(self) -> tuple[tuple[int, ...], ...]:
        raise NotImplementedError

    def encode(self) -> bytes:
        items = self._items()
        if not self._MIN <= len(items) <= self._MAX:
            raise FieldRangeError(
                f"{type(self).__name__}: {len(items)} entries outside {self._MIN} .. {self._MAX}"
            )
        self._check_items(items)
        try:
            flat = [v for item in items for v in item]
            return struct.pack("<HH" + self._ENTRY * len(items), len(items), 0, *flat)
        except struct.error as e:
            raise FieldRangeError(f"{type(self).__name__}: {e}") from None

    def _check_items(self, items: Sequence[tuple[int, ...]]) -> None:
        pass

    @classmethod
    def _parse(cls, payload: bytes) -> list[tuple[int, ...]]:
        check_len(cls.TYPE, len(payload))
        count, reserved = struct.unpack_from("<HH", payload)
        size = struct.calcsize("<" + cls._ENTRY)
        if reserved != 0 or 4 + count * size != len(payload):
            raise PayloadError(f"{cls.__name__}: count {count} disagrees with the payload")
        return [tuple(v) for v in struct.iter_unpack("<" + cls._ENTRY, payload[4:])]


@dataclass(frozen=True)
class Rule(_Listed):
    """New hyperparameters, ``params`` = ((id, value), ...), applied all or none."""

    TYPE: ClassVar[int] = MsgType.RULE
    params: tuple[tuple[int, int], ...]
    _ENTRY: ClassVar = "Hi"
    _MIN: ClassVar = 1
    _MAX: ClassVar = RULE_MAX_ENTRIES

    def _items(self) -> tuple[tuple[int, ...], ...]:
        return tuple(tuple(p) for p in self.params)

    @classmethod
    def decode(cls, payload: bytes) -> Message:
        return cls(tuple((i, v) for i, v in cls._parse(payload)))


@dataclass(frozen=True)
class RuleOk(Message):
    TYPE: ClassVar[int] = MsgType.RULE | RESPONSE
    applied: int
    _LAYOUT: ClassVar = (("applied", "I"),)


@dataclass(frozen=True)
class Events(_Listed):
    """A batch of address events ((t, addr), ...), t non-decreasing; 0 events: credit query."""

    TYPE: ClassVar[int] = MsgType.EVENTS
    events: tuple[tuple[int, int], ...] = ()
    _ENTRY: ClassVar = "II"
    _MIN: ClassVar = 0
    _MAX: ClassVar = EVENTS_MAX

    def _items(self) -> tuple[tuple[int, ...], ...]:
        return tuple(tuple(e) for e in self.events)

    def _check_items(self, items: Sequence[tuple[int, ...]]) -> None:
        for a, b in zip(items, items[1:], strict=False):
            if b[0] < a[0]:
                raise FieldRangeError(f"Events: timestamp {b[0]} after {a[0]} (must not decrease)")

    @classmethod
    def decode(cls, payload: bytes) -> Message:
        items = cls._parse(payload)
        msg = cls(tuple((t, a) for t, a in items))
        msg._check_items(items)
        return msg


@dataclass(frozen=True)
class EventsOk(Message):
    TYPE: ClassVar[int] = MsgType.EVENTS | RESPONSE
    accepted: int
    credits: int
    queued: int
    _LAYOUT: ClassVar = (("accepted", "H"), ("_r0", "H"), ("credits", "I"), ("queued", "I"))


@dataclass(frozen=True)
class Run(Message):
    TYPE: ClassVar[int] = MsgType.RUN
    steps: int
    _LAYOUT: ClassVar = (("steps", "I"),)
    _RANGES: ClassVar = {"steps": (1, 0xFFFFFFFF)}


@dataclass(frozen=True)
class RunOk(Message):
    TYPE: ClassVar[int] = MsgType.RUN | RESPONSE
    step: int
    spikes: int
    events_consumed: int
    credits: int
    _LAYOUT: ClassVar = (("step", "I"), ("spikes", "I"), ("events_consumed", "I"), ("credits", "I"))


@dataclass(frozen=True)
class Label(Message):
    """Third factor: the label (class index, -1 clears) for ``population``."""

    TYPE: ClassVar[int] = MsgType.LABEL
    population: int
    label: int
    _LAYOUT: ClassVar = (("population", "H"), ("_r0", "H"), ("label", "i"))


@dataclass(frozen=True)
class LabelOk(_Empty):
    TYPE: ClassVar[int] = MsgType.LABEL | RESPONSE


@dataclass(frozen=True)
class Reward(Message):
    """Third factor: a reward broadcast to ``population``."""

    TYPE: ClassVar[int] = MsgType.REWARD
    population: int
    value: int
    _LAYOUT: ClassVar = (("population", "H"), ("_r0", "H"), ("value", "i"))


@dataclass(frozen=True)
class RewardOk(_Empty):
    TYPE: ClassVar[int] = MsgType.REWARD | RESPONSE


@dataclass(frozen=True)
class Learn(Message):
    TYPE: ClassVar[int] = MsgType.LEARN
    enable: int
    _LAYOUT: ClassVar = (("enable", "B"), ("_r0", "B"), ("_r1", "H"))
    _RANGES: ClassVar = {"enable": (0, 1)}


@dataclass(frozen=True)
class LearnOk(Message):
    TYPE: ClassVar[int] = MsgType.LEARN | RESPONSE
    previous: int
    _LAYOUT: ClassVar = (("previous", "B"), ("_r0", "B"), ("_r1", "H"))
    _RANGES: ClassVar = {"previous": (0, 1)}


@dataclass(frozen=True)
class Read(Message):
    """READ ``count`` elements of selector ``what`` (READ_*) from ``index`` at ``offset``."""

    TYPE: ClassVar[int] = MsgType.READ
    what: int
    flags: int = 0
    index: int = 0
    offset: int = 0
    count: int = 1
    _LAYOUT: ClassVar = (
        ("what", "B"), ("flags", "B"), ("index", "H"), ("offset", "I"), ("count", "H"),
        ("_r0", "H"),
    )  # fmt: skip
    _RANGES: ClassVar = {"what": (READ_SPIKES, READ_WEIGHTS), "count": (1, 0xFFFF)}

    def encode(self) -> bytes:
        if self.flags & ~READ_FLAG_CLEAR:
            raise FieldRangeError(f"Read.flags = {self.flags:#x} has reserved bits")
        return super().encode()

    @classmethod
    def decode(cls, payload: bytes) -> Message:
        if len(payload) == READ_BYTES and payload[1] & ~READ_FLAG_CLEAR:
            raise PayloadError("Read: reserved flag bits set")
        return super().decode(payload)


@dataclass(frozen=True)
class ReadOk(Message):
    """READ response: ``values`` decoded per selector (u32 spikes, i32 prediction, i8 weights)."""

    TYPE: ClassVar[int] = MsgType.READ | RESPONSE
    what: int
    index: int
    offset: int
    total: int
    values: tuple[int, ...]

    @property
    def elem_size(self) -> int:
        return struct.calcsize(READ_ELEM[self.what])

    def encode(self) -> bytes:
        if self.what not in READ_ELEM:
            raise FieldRangeError(f"ReadOk.what = {self.what}")
        if not 1 <= len(self.values) * self.elem_size <= READ_MAX_DATA:
            raise FieldRangeError(f"ReadOk: {len(self.values)} values")
        try:
            head = struct.pack(
                "<BBHIIHH", self.what, self.elem_size, self.index, self.offset, self.total,
                len(self.values), 0,
            )  # fmt: skip
            return head + struct.pack(f"<{len(self.values)}{READ_ELEM[self.what]}", *self.values)
        except struct.error as e:
            raise FieldRangeError(f"ReadOk: {e}") from None

    @classmethod
    def decode(cls, payload: bytes) -> Message:
        check_len(cls.TYPE, len(payload))
        what, elem, index, offset, total, count, reserved = struct.unpack_from("<BBHIIHH", payload)
        if reserved != 0 or READ_RESP_HEAD_BYTES + count * elem != len(payload):
            raise PayloadError("ReadOk: count disagrees with the payload")
        if what not in READ_ELEM or elem != struct.calcsize(READ_ELEM[what]):
            raise FieldRangeError(f"ReadOk: selector {what} with element size {elem}")
        values = struct.unpack_from(f"<{count}{READ_ELEM[what]}", payload, READ_RESP_HEAD_BYTES)
        return cls(what, index, offset, total, tuple(values))

    def flat(self) -> list[int]:
        return [self.what, self.elem_size, self.index, self.offset, self.total, len(self.values),
                *self.values]  # fmt: skip


@dataclass(frozen=True)
class Save(_Empty):
    TYPE: ClassVar[int] = MsgType.SAVE


@dataclass(frozen=True)
class SaveOk(Message):
    TYPE: ClassVar[int] = MsgType.SAVE | RESPONSE
    generation: int
    slot: int
    _LAYOUT: ClassVar = (("generation", "I"), ("slot", "B"), ("_r0", "B"), ("_r1", "H"))


@dataclass(frozen=True)
class Restore(_Empty):
    TYPE: ClassVar[int] = MsgType.RESTORE


@dataclass(frozen=True)
class RestoreOk(SaveOk):
    TYPE: ClassVar[int] = MsgType.RESTORE | RESPONSE


@dataclass(frozen=True)
class Error(Message):
    """ERROR frame: ``status`` (a :class:`Status` or another runtime code), the offending
    request's type (0 when unattributed) and a status-specific ``detail``."""

    TYPE: ClassVar[int] = MsgType.ERROR
    status: int
    request_type: int = 0
    detail: int = 0
    _LAYOUT: ClassVar = (("status", "H"), ("request_type", "B"), ("_r0", "B"), ("detail", "I"))
    _RANGES: ClassVar = {"status": (1, 0xFFFF)}

    def exception(self, seq: int) -> DeviceError:
        """This ERROR as an exception to raise, for the ERROR frame with sequence number seq."""
        return DeviceError(self.status, self.request_type, self.detail, seq)


#: message class of every type
MESSAGES: dict[int, type[Message]] = {
    cls.TYPE: cls
    for cls in (
        Ping, Pong, InfoRequest, Info, Reset, ResetOk, LoadBegin, LoadBeginOk, LoadChunk,
        LoadChunkOk, LoadCommit, LoadCommitOk, Rule, RuleOk, Events, EventsOk, Run, RunOk, Label,
        LabelOk, Reward, RewardOk, Learn, LearnOk, Read, ReadOk, Save, SaveOk, Restore,
        RestoreOk, Error,
    )
}  # fmt: skip
assert set(MESSAGES) == set(LEN_RULES)


def encode_message(msg: Message, seq: int) -> bytes:
    """The wire bytes of ``msg`` as a frame with sequence number ``seq``."""
    return encode_frame(msg.TYPE, seq, msg.encode())


def decode_message(frame: Frame) -> Message:
    """The message a received frame carries; raises :class:`PayloadError`,
    :class:`FieldRangeError` or :class:`UnknownTypeError`."""
    check_len(frame.type, len(frame.payload))
    return MESSAGES[frame.type].decode(frame.payload)


def error_reply(err: FrameError) -> bytes:
    """The ERROR frame a device sends for a frame its receiver rejected (C: el_rx_error_reply).

    Unattributed (seq 0, request type 0) unless the header was trusted; for E_VERSION the
    detail is this protocol's version."""
    detail = VERSION if err.status == Status.E_VERSION else 0
    if err.header is None:
        return encode_message(Error(int(err.status), 0, detail), SEQ_UNATTRIBUTED)
    return encode_message(Error(int(err.status), err.header.type, detail), err.header.seq)


def first_seq() -> int:
    """A random first sequence number for a new connection (1 .. 65535): the device's cache
    of the last response must not mistake the new session's first request for a resend."""
    return secrets.randbelow(0xFFFF) + 1


def next_seq(seq: int) -> int:
    """The sequence number after ``seq``: 1, 2, ..., 65535, 1, ... (0 is never used)."""
    return seq % 0xFFFF + 1


def request_type_of(response_type: int) -> int:
    """The request type a response type answers (ERROR answers any: returns ERROR)."""
    return response_type if response_type == MsgType.ERROR else response_type & ~RESPONSE
