"""Export keeps what the twin trained: a rule hyperparameter the twin holds at its term's width
limit is exported at that limit (it was exported unclipped, and the artifact refused)."""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np

from edgelearn import plasticity
from metatrain import model


def test_export_applies_the_rules_width_limits():
    # x1 * y1 * r: a three-factor product whose coefficient may be at most +-8 mantissas
    cfg = dataclasses.replace(model.ModelConfig(), hidden=8, ways=2,
                              rule="dw = 4 * 2^-14 * x1 * y1 * r\nt_epoch = 10\n")
    theta = model.init_theta(cfg, jax.random.PRNGKey(0))
    hyper = theta["hyper"]
    theta["hyper"] = dataclasses.replace(hyper, coef=jnp.full_like(hyper.coef, -43.0))
    rule = cfg.parsed_rule
    lo, _ = plasticity._coef_limits(rule, 1)
    net = model.to_network(cfg, theta)  # refused with "term 0 too wide" before
    exported = net.connections[1].rule.hyper().coef[0]
    twin_value = int(np.asarray(plasticity.quantized(theta["hyper"], rule).coef)[0])
    assert exported == twin_value == int(lo[0]) > -43
