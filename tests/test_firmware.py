"""The firmware itself: the Cortex-M4 build under QEMU (end to end, equal to the in-process C
runtime), power cuts during SAVE, the sanitized dispatcher fuzz, and the C artifact reader
through cffi."""

from __future__ import annotations

import os
import struct
import subprocess
import time
import zlib

import fw_common as F
import numpy as np
import pytest

from edgelearn import artifact
from edgelearn import protocol as P
from edgelearn.device import Device

launcher = pytest.importorskip("firmware_sim.launcher")

try:
    launcher.csrc_dir()
except launcher.FirmwareError as e:  # an installed package without the C sources
    pytest.skip(str(e), allow_module_level=True)


# ---- QEMU -----------------------------------------------------------------------------------

qemu_missing = launcher.qemu_available()


@pytest.mark.skipif(qemu_missing is not None, reason=f"Cortex-M firmware: {qemu_missing}")
@pytest.mark.parametrize("transport", ["tcp", "pty"])
def test_qemu_oneshot_session_equals_in_process_runtime(transport):
    art = F.oneshot_artifact(0)
    s = F.make_session(0)
    ref = F.reference(art, s)
    with launcher.start("qemu", transport) as emu, Device(emu.url) as dev:
        info = dev.info()
        assert info.proto_version == 1 and info.flash_slots == 2
        out = F.on_device(dev, art, s)
        gen, slot = dev.save()
        dev.reset(model=True)
        assert dev.info().model_loaded == 0
        assert dev.restore() == (gen, slot)
        restored = {k: dev.read_weights(k).reshape(-1) for k in out.weights}
    F.assert_same(ref, out)
    for k, w in out.weights.items():  # SAVE kept the learned weights
        np.testing.assert_array_equal(restored[k], w.reshape(-1))


# ---- power cuts during SAVE -------------------------------------------------------------------


def _weights0(dev: Device) -> np.ndarray:
    return dev.read_weights(0).reshape(-1)


def test_power_cut_at_any_byte_of_save_keeps_the_last_good_model(tmp_path):
    """Kill the host emulator at >= 50 points inside SAVE (EL_FLASH_CUT_AFTER: the flash HAL
    dies after N bytes erased or programmed); after each restart the newest good model is the
    one loaded at boot, and it answers."""
    flash = tmp_path / "flash.bin"
    models = [F.oneshot_artifact(10, plastic=False), F.oneshot_artifact(11, plastic=False)]
    blobs = [artifact.to_bytes(m) for m in models]
    w0 = [np.asarray(m.network.connections[0].weights).reshape(-1) for m in models]
    with launcher.Emulator("host", "tcp", flash=flash) as emu, Device(emu.url) as dev:
        dev.load(blobs[0])
        assert dev.save() == (1, 0)
    # cut points: 56 spread over the save, plus the boundaries of its four phases (erase the
    # header, erase the data, program the data, program the header), as offsets of the save
    spread = [lambda n, f=f: int(f * (2 * n + 52)) for f in np.linspace(0, 1, 56, endpoint=False)]
    edges = [lambda n: 1, lambda n: 31, lambda n: 32, lambda n: n + 31, lambda n: n + 32,
             lambda n: 2 * n + 31, lambda n: 2 * n + 32, lambda n: 2 * n + 51]
    points = spread + edges
    good, gen = 0, 1
    for i, at in enumerate(points):
        new = 1 - good
        cut = at(len(blobs[new]))
        assert 0 <= cut < 2 * len(blobs[new]) + 52  # erase 32 + n, program n + 20
        emu = launcher.Emulator("host", "tcp", flash=flash,
                                env={"EL_FLASH_CUT_AFTER": str(cut)})
        emu.start()
        try:
            with Device(emu.url, timeout=0.5, retries=1, open_timeout=0.05) as dev:
                assert dev.info().model_loaded == 1  # restored at boot
                dev.load(blobs[new])
                with pytest.raises((P.ProtocolError, OSError)):
                    dev.save()  # the power goes
            assert emu.proc.wait(5) == 86
        finally:
            emu.stop()
        with launcher.Emulator("host", "tcp", flash=flash) as emu, Device(emu.url) as dev:
            info = dev.info()
            assert info.model_loaded == 1, f"cut at byte {cut}: no model after restart"
            np.testing.assert_array_equal(_weights0(dev), w0[good],
                                          err_msg=f"cut at byte {cut}: not the last good model")
            assert dev.run(5).step == 5  # it answers
            if i % 6 == 5:  # now and then a save that completes: the newest copy moves
                dev.load(blobs[new])
                gen += 1
                assert dev.save()[0] == gen
                good = new
    assert len(points) >= 50


def test_power_cut_at_every_byte_in_process():
    """The two-slot store in C, cut at every byte of three SAVEs (ASan + UBSan)."""
    try:
        binary = launcher.build("host", tool="test_flash")
    except launcher.FirmwareError as e:
        pytest.skip(f"cannot build the flash test: {e}")
    r = subprocess.run([str(binary)], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    print(r.stdout.strip())


# ---- fuzzing the dispatcher ---------------------------------------------------------------


def test_dispatcher_fuzz_under_sanitizers():
    """1e6 random and mutated frames through the firmware's dispatcher under ASan + UBSan."""
    try:
        binary = launcher.build("host", fuzz=True)
    except launcher.FirmwareError as e:
        pytest.skip(f"cannot build the sanitized fuzzer: {e}")
    t = time.monotonic()
    r = subprocess.run([str(binary)], capture_output=True, text=True, timeout=300,
                       env=dict(os.environ, EL_FUZZ_ITERS="1000000", EL_FUZZ_SEED="1"))
    assert r.returncode == 0, r.stdout + r.stderr
    assert "fuzz_app: 1000000 inputs" in r.stdout
    print(r.stdout.strip(), f"({time.monotonic() - t:.1f} s wall)")


# ---- the C artifact reader through cffi --------------------------------------------------------


def test_c_artifact_reader_agrees_with_python_and_refuses_damage():
    from edgelearn._el_runtime import ffi, lib

    if not hasattr(lib, "el_artifact_parse"):
        pytest.skip("the compiled extension predates el_artifact (rebuild: pip install -e .)")
    art = F.oneshot_artifact(0)
    data = artifact.to_bytes(art)
    (off,) = np.frombuffer(data[12:16], "<u4")
    shift = (-(32 + int(off))) % 4
    buf = ffi.new("uint64_t[]", (len(data) + shift) // 8 + 2)  # 8-aligned
    raw = ffi.cast("uint8_t *", buf)

    def parse(blob: bytes) -> tuple[int, object]:
        ffi.memmove(raw + shift, blob, len(blob))
        a = ffi.new("el_artifact_t *")
        return lib.el_artifact_parse(raw + shift, len(blob), a), a

    st, a = parse(data)
    assert st == lib.EL_ART_OK
    assert a.seed == art.network.seed and a.n_plastic == 2
    assert (a.has_input_map, a.input_map.width, a.input_map.polarities) == (1, 4, 2)
    assert (a.has_readout, a.readout.population, a.readout.r_pos) == (1, 1, 120)
    assert [a.nnz[k] for k in range(3)] == [768, 96, int(art.network.connections[2].indptr[-1])]
    names = set()
    for n in range(0, len(data), 7):
        st, _ = parse(data[:n])
        assert st != lib.EL_ART_OK
        names.add(ffi.string(lib.el_artifact_status_name(st)).decode())
    rng = np.random.default_rng(0)
    for pos in rng.choice(len(data), 200, replace=False):
        bad = bytearray(data)
        bad[pos] ^= 1 << int(rng.integers(8))
        assert parse(bytes(bad))[0] != lib.EL_ART_OK
    assert names == {"EL_ART_E_TRUNCATED"}
    assert parse(b"X" + data[1:])[0] == lib.EL_ART_E_MAGIC
    assert parse(data + b"\0")[0] == lib.EL_ART_E_TRAILING
    # Header fields that version 1 leaves zero (flags at 10, reserved at 28, the first inside
    # the header checksum, which is fixed up): C and Python both refuse, so a file loads in
    # process exactly when it loads on the device.
    for at in (10, 28):
        bad = bytearray(data)
        bad[at] = 1
        bad[24:28] = struct.pack("<I", zlib.crc32(bytes(bad[:24])))
        assert parse(bytes(bad))[0] == lib.EL_ART_E_HEADER_CRC
        with pytest.raises(artifact.ArtifactError, match=f"at byte {at}: .*must be 0"):
            artifact.from_bytes(bytes(bad))
