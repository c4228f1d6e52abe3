"""Sustained event throughput over the serial link to the firmware: the host emulator over a
pty and over 127.0.0.1 TCP, and the Cortex-M4 firmware under QEMU (mps2-an386, UART0 on TCP).

Each link gets the same artifact (32 inputs -> 64 -> 4 neurons, dense, not plastic) and a
stream of random address events (about 200 per timestep) sent with Device.stream: EVENTS
batches of 127 under the device's credit-based flow control, each window of timesteps followed
by a RUN. Figures: events per second sent *and* consumed by the network (they must be equal:
zero events lost), EVENTS frames per second, and the PING round trip.

QEMU's CMSDK UART model holds one received byte and takes the next only after the guest has
read it, one QEMU main-loop turn per byte (~60 us per byte on the machine of the note), so the
QEMU figure is that of the emulated UART (a 115200-baud line carries ~1,400 events/s at 8 bytes
an event), not of the firmware.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from edgelearn import INPUT, Connection, Network, Population, artifact
from edgelearn.device import Device


def _artifact() -> bytes:
    rng = np.random.default_rng(0)
    pops = (Population("hidden", 64, du=2000, dv=400, vth_mant=60),
            Population("out", 4, du=1200, dv=600, vth_mant=30))
    net = Network(32, pops, (Connection(INPUT, "hidden", rng.integers(-60, 60, (64, 32))),
                             Connection("hidden", "out", rng.integers(-10, 40, (4, 64)))), seed=1)
    return artifact.to_bytes(artifact.Artifact(net, artifact.InputMap(4, 4, 2),
                                               artifact.Readout(1)))


def _measure(url: str, n_events: int, per_step: int = 200) -> dict:
    rng = np.random.default_rng(1)
    n_steps = n_events // per_step
    t = np.sort(rng.integers(0, n_steps, n_events)).astype(np.uint32)
    addr = rng.integers(0, 32, n_events).astype(np.uint32)
    with Device(url, timeout=2.0) as dev:
        dev.load(_artifact())
        rtt = min(dev.ping(b"\x55" * 16) for _ in range(50))
        start = dev.info().step
        t0 = time.perf_counter()
        res = dev.stream(t + start, addr, start + n_steps)
        dt = time.perf_counter() - t0
        frames = dev.stats["requests"]
    lost = res.sent - res.consumed
    return {"events": int(res.sent), "consumed": int(res.consumed), "lost": int(lost),
            "seconds": round(dt, 3), "events_per_s": round(res.sent / dt),
            "events_frames_per_s": round(-(-res.sent // 127) / dt), "runs": res.runs,
            "steps": n_steps, "ping_rtt_ms": round(rtt * 1e3, 3), "requests": frames}


def main(out_dir: Path | str | None = None) -> dict:
    from firmware_sim import launcher

    out: dict = {}
    links = [("host_pty", "host", "pty", 400_000), ("host_tcp", "host", "tcp", 400_000),
             ("qemu_tcp", "qemu", "tcp", 50_000)]
    for name, target, transport, n in links:
        if target == "qemu" and launcher.qemu_available():
            out[name] = {"skipped": launcher.qemu_available()}
            print(f"{name:9s} skipped: {out[name]['skipped']}")
            continue
        with launcher.start(target, transport) as emu:
            r = _measure(emu.url, n)
        out[name] = r
        print(f"{name:9s} {r['events_per_s']:>10,d} events/s sustained ({r['events']:,d} sent, "
              f"{r['consumed']:,d} consumed, {r['lost']} lost; {r['events_frames_per_s']:,d} "
              f"EVENTS frames/s; ping {r['ping_rtt_ms']} ms)", flush=True)
        assert r["lost"] == 0 and r["consumed"] == r["events"]
    return out


if __name__ == "__main__":
    main()
