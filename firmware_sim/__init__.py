"""edgelearn firmware: the C application (``app.c``) over two HALs (host: pty / TCP;
Cortex-M: QEMU mps2-an386), its launcher (:mod:`firmware_sim.launcher`) and the
``edgelearn emulator`` command (:mod:`firmware_sim.cli`)."""
