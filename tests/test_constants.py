"""The core's constants exist once in Python (edgelearn/constants.py) and once in C
(csrc/el_config.h); they must agree, in both directions."""

from __future__ import annotations

import re
from pathlib import Path

from edgelearn import constants as C
from edgelearn.runtime import constants

EL_CONFIG_H = Path(__file__).resolve().parent.parent / "csrc" / "el_config.h"


def test_every_python_constant_equals_c():
    c = constants()
    for name, value in C.ALL.items():
        assert name in c, f"{name} is in edgelearn/constants.py but not in el_config.h"
        assert c[name] == value, f"{name}: Python {value}, C {c[name]}"


def test_every_c_constant_is_in_python():
    for name, value in constants().items():
        assert name in C.ALL, f"EL_{name} is in el_config.h but not in edgelearn/constants.py"
        assert C.ALL[name] == value


def test_config_table_lists_every_define():
    """The X-macro table behind constants() names every #define of el_config.h's config block."""
    text = EL_CONFIG_H.read_text()
    block = text.split("EL_CONFIG_BEGIN", 1)[1].split("EL_CONFIG_END", 1)[0]
    defined = set(re.findall(r"^#define EL_(\w+)\s", block, re.M))
    assert defined == set(constants())
    assert len(defined) == len(C.ALL)
