"""The core's constants, defined once for Python (their C twins live in ``csrc/el_config.h``).

``docs/spec.md`` explains each one; ``tests/test_constants.py`` checks that C agrees.
"""

STATE_BITS = 24
STATE_MIN = -(1 << (STATE_BITS - 1))  # wrap24 range, lower end
STATE_MAX = (1 << (STATE_BITS - 1)) - 1  # wrap24 / sat24 upper end (sat24 is symmetric)
DECAY_BITS = 12
DECAY_MAX = (1 << DECAY_BITS) - 1
VTH_MANT_MAX = (1 << 17) - 1
VTH_SHIFT = 6
BIAS_MANT_MIN = -(1 << 12)
BIAS_MANT_MAX = (1 << 12) - 1
BIAS_EXP_MAX = 7
WEIGHT_BITS = 8
WEIGHT_MIN = -(1 << (WEIGHT_BITS - 1))
WEIGHT_MAX = (1 << (WEIGHT_BITS - 1)) - 1
WEIGHT_EXP_MIN = -8
WEIGHT_EXP_MAX = 7
WEIGHT_SHIFT = 6
REFRACT_MAX = 64
MAX_FANIN = 1 << 16
MAX_NEURONS = 1 << 20
MAX_POPULATIONS = 64
MAX_CONNECTIONS = 256

#: Every public constant, by name, for the C comparison test and ``edgelearn inspect``.
ALL = {k: v for k, v in dict(globals()).items() if k.isupper() and isinstance(v, int)}
