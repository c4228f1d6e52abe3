# The two commands a newcomer needs: `make demo` and `make test`. Each does its own set-up.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
SRC_DEPS := pyproject.toml setup.py edgelearn/_ffi_build.py $(wildcard csrc/*.c csrc/*.h) \
	edgelearn/events/_decode.c edgelearn/events/_decode.h

.PHONY: all install demo test bench lint clean ctest

all: test

$(STAMP): $(SRC_DEPS)
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev,bench]'
	@touch $@

# Lava (lava-nc) is a test reference only: its runtime needs Python < 3.11, so the package goes,
# without its dependencies, into a folder of its own, from which tests/lava_ref.py runs its
# bit-accurate LIF and Dense model files (tests/test_lava.py).
LAVA := $(VENV)/lava-nc/.installed-stamp
$(LAVA): | $(STAMP)
	$(PY) -m pip install -q --no-deps --ignore-requires-python --target $(VENV)/lava-nc lava-nc==0.10.0
	@touch $@

install: $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/edgelearn demo $(DEMO_ARGS)

test: $(STAMP) $(LAVA)
	$(VENV)/bin/ruff check edgelearn metatrain firmware_sim tests demos
	$(MAKE) -C csrc test
	$(PY) -m pytest -q -n 2 --dist loadgroup --durations=10 tests

bench: $(STAMP)
	$(PY) tests/bench/run.py --out bench-results $(if $(ONLY),--only $(ONLY))

lint: $(STAMP)
	$(VENV)/bin/ruff check edgelearn metatrain firmware_sim tests demos

clean:
	rm -rf $(VENV) build *.egg-info edgelearn/_el_runtime*.so edgelearn/_el_runtime.c \
		edgelearn/events/_el_decode*.so edgelearn/events/_el_decode.c
	$(MAKE) -C csrc clean
