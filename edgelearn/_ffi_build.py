"""cffi out-of-line API-mode build of the C runtime (``csrc/``) into ``edgelearn._el_runtime``.

Every ``csrc/*.c`` is compiled in; the declarations Python may call are the ``csrc/cdef/*.h``
files (cffi's cdef dialect), concatenated in name order. Only ``edgelearn.runtime`` (and the
other thin wrappers it names) touch the resulting ``lib``.
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

if __name__ == "__main__":
    ffibuilder.compile(verbose=True)
