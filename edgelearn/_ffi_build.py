"""cffi out-of-line API-mode build of the C runtime (``csrc/``) into ``edgelearn._el_runtime``.

Every ``csrc/*.c`` is compiled in; the declarations Python may call are the ``csrc/cdef/*.h``
files (cffi's cdef dialect), concatenated in name order. Only ``edgelearn.runtime`` (and the
other thin wrappers it names) touch the resulting ``lib``. A second, host-only module,
``edgelearn.events._el_decode``, holds the event-file decoders (``edgelearn/events/_decode.c``).
"""

from __future__ import annotations

import platform
import sys
from pathlib import Path

from cffi import FFI

ROOT = Path(__file__).resolve().parent.parent
CSRC = ROOT / "csrc"

# On x86-64 Linux (GCC/Clang, ELF) the hot loops are also compiled for AVX2 and picked at load
# time (GNU ifunc, see csrc/el_port.h: EL_VECTOR_CLONES); the integers computed are identical.
_DEFINES = ([("EL_TARGET_CLONES", "1")]
            if sys.platform.startswith("linux") and platform.machine() in ("x86_64", "AMD64")
            else [])

ffibuilder = FFI()
ffibuilder.cdef("\n".join(p.read_text() for p in sorted((CSRC / "cdef").glob("*.h"))))
ffibuilder.set_source(
    "edgelearn._el_runtime",
    '#include "edgelearn.h"\n',
    sources=sorted(str(p.relative_to(ROOT)) for p in CSRC.glob("*.c")),
    include_dirs=[str(CSRC.relative_to(ROOT))],
    define_macros=_DEFINES,
    extra_compile_args=["-O3", "-fno-strict-aliasing"],
)

# The host-side event-file decoders (EVT 2.0/3.0, AEDAT4 event vectors): a separate module,
# since they are no part of the device runtime (csrc/ is what the firmware builds).
EVENTS = ROOT / "edgelearn" / "events"
events_ffibuilder = FFI()
events_ffibuilder.cdef((EVENTS / "_decode.h").read_text())
events_ffibuilder.set_source(
    "edgelearn.events._el_decode",
    '#include "_decode.h"\n',
    sources=[str((EVENTS / "_decode.c").relative_to(ROOT))],
    include_dirs=[str(EVENTS.relative_to(ROOT))],
    extra_compile_args=["-O3", "-fno-strict-aliasing"],
)

if __name__ == "__main__":
    ffibuilder.compile(verbose=True)
    events_ffibuilder.compile(verbose=True)
