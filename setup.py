"""cffi needs setup.py to build the out-of-line C runtime extension on install."""

from setuptools import setup

setup(cffi_modules=["edgelearn/_ffi_build.py:ffibuilder"])
