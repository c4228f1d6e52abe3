"""cffi needs setup.py to build the out-of-line C extensions (runtime, event decoders) on install."""

from setuptools import setup

setup(
    cffi_modules=[
        "edgelearn/_ffi_build.py:ffibuilder",
        "edgelearn/_ffi_build.py:events_ffibuilder",
    ]
)
