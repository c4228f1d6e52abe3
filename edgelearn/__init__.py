"""edgelearn: on-chip learning for neuromorphic edge hardware.

The public API is imported lazily: ``import edgelearn`` is cheap and never imports JAX or the
compiled runtime until one of them is used.
"""

from ._version import __version__
from .network import INPUT, Connection, Network, Population, layer

__all__ = ["__version__", "INPUT", "Connection", "Network", "Population", "layer"]
