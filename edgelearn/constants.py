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

# plasticity (docs/spec.md section 5)
TRACE_BITS = 7
TRACE_MAX = (1 << TRACE_BITS) - 1
IMPULSE_FRAC_BITS = 4
IMPULSE_MAX = 2047
THIRD_MIN = -128
THIRD_MAX = 127
THIRD_SHIFT_MAX = 23  # a computed third factor is clamp(shr(u, 0..23)) (spec 5.3)
TAG_MIN = -128
TAG_MAX = 127
LEARN_FRAC_BITS = 15
LEARN_ACC_LIMIT = 1 << 23
PRODUCT_LIMIT = 1 << 24
COEF_MANT_MIN = -128
COEF_MANT_MAX = 127
COEF_EXP_MIN = -24
COEF_EXP_MAX = 7
T_EPOCH_MAX = 65535
RULE_VERSION = 1
RULE_MAX_TERMS = 16
RULE_MAX_FACTORS = 4
RULE_MAX_ITEMS = 4

#: Every public constant, by name, for the C comparison test and ``edgelearn inspect``.
ALL = {k: v for k, v in dict(globals()).items() if k.isupper() and isinstance(v, int)}
