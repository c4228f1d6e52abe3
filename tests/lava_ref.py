"""Our networks on Lava's bit-accurate process models (lava-nc 0.10.0): the reference that
tests/test_lava.py holds the core to.

Lava needs Python < 3.11 for its runtime (its compiler's dataclasses do not import on 3.11),
so the package is installed without its dependencies into ``.venv/lava-nc`` (``make
install``) and only the two model files are run: ``lava/proc/lif/models.py``
(``PyLifModelBitAcc``) and ``lava/proc/dense/models.py`` (``PyDenseModelBitAcc``, with the
real ``lava/utils/weightutils.py`` it calls for weight clipping and truncation), executed as
they are with the Magma runtime's classes (ports, decorators, the process-model base class)
replaced by stand-ins that carry data and nothing else. The driver plays Lava's Loihi
protocol: every time step each Dense sends the input it accumulated the step before, then each
LIF receives, updates and sends its spikes, then each Dense receives them. Nothing of Lava's
arithmetic is restated here.
"""

from __future__ import annotations

import builtins
import pathlib
import sys
import types

import numpy as np

from edgelearn import INPUT, Network

ROOT = pathlib.Path(__file__).resolve().parents[1]
#: Where ``make install`` puts lava-nc (pip --target, no dependencies).
LAVA = ROOT / ".venv" / "lava-nc"
LAVA_VERSION = "0.10.0"


def available() -> str | None:
    """None when the Lava model files are there, else why not."""
    if not (LAVA / "lava" / "proc" / "lif" / "models.py").is_file():
        return (f"lava-nc {LAVA_VERSION} not found in {LAVA} (make install puts it there: "
                f"pip install --no-deps --ignore-requires-python --target {LAVA} "
                f"lava-nc=={LAVA_VERSION})")
    return None


# --------------------------------------------------------------------------- runtime stand-ins


class _ProcessModel:
    """Stand-in for ``PyLoihiProcessModel``: keeps ``proc_params``, nothing else."""

    def __init__(self, proc_params=None):
        self.proc_params = dict(proc_params or {})

    def run_spk(self):
        pass


class _Port:
    """Stand-in for ``PyInPort`` / ``PyOutPort``: one value, sent or received."""

    VEC_DENSE = "VEC_DENSE"
    VEC_SPARSE = "VEC_SPARSE"
    SCALAR_DENSE = "SCALAR_DENSE"
    SCALAR_SPARSE = "SCALAR_SPARSE"

    def __init__(self):
        self.value = None

    def send(self, value):
        self.value = np.array(value, copy=True)

    def recv(self):
        return self.value


def _decorator(*args, **kwargs):
    return lambda cls: cls


_STANDINS = {
    "PyLoihiProcessModel": _ProcessModel,
    "PyInPort": _Port,
    "PyOutPort": _Port,
    "LavaPyType": lambda *a, **k: None,
    "implements": _decorator,
    "requires": _decorator,
    "tag": _decorator,
}


class _StubModule(types.ModuleType):
    """A Magma module: the stand-ins above by name, an empty class for anything else."""

    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        value = _STANDINS.get(name) or type(name, (), {})
        setattr(self, name, value)
        return value


_LOADED: dict[str, types.ModuleType] = {}


def _load(rel: str) -> types.ModuleType:
    """Execute ``LAVA/rel`` (a Lava source file) as a module whose ``lava.*`` imports resolve
    to other real files loaded the same way (``lava.utils``) or to stand-ins (the rest)."""
    if rel in _LOADED:
        return _LOADED[rel]
    path = LAVA / rel
    name = "lava_ref._" + rel.removesuffix(".py").replace("/", "_")
    mod = types.ModuleType(name)
    mod.__file__ = str(path)
    sys.modules[name] = mod  # dataclasses look their module up there

    def _import(name, globals=None, locals=None, fromlist=(), level=0):
        if name == "lava.utils.weightutils":
            return _load("lava/utils/weightutils.py")
        if name.startswith("lava"):
            return _StubModule(name)
        return builtins.__import__(name, globals, locals, fromlist, level)

    mod.__dict__["__builtins__"] = {**builtins.__dict__, "__import__": _import}
    exec(compile(path.read_text(), str(path), "exec"), mod.__dict__)
    _LOADED[rel] = mod
    return mod


def models() -> tuple[type, type]:
    """``(PyLifModelBitAcc, PyDenseModelBitAcc)`` from the installed lava-nc."""
    lif = _load("lava/proc/lif/models.py")
    dense = _load("lava/proc/dense/models.py")
    return lif.PyLifModelBitAcc, dense.PyDenseModelBitAcc


# --------------------------------------------------------------------------- the driver


def run(net: Network, raster: np.ndarray):
    """Run ``net`` on Lava's LIF and Dense models: one LIF process per population with our
    integer parameters, one Dense per connection (our weight mantissas, ``weight_exp =
    w_exp``). ``raster`` row t is what the input sends at Lava time step t + 1. Returns the
    spikes, u and v of every neuron after every step, each ``(T, n_neurons)``."""
    LIF, Dense = models()
    lifs = {}
    for p in net.populations:
        m = LIF({})
        m.u = np.zeros(p.size, np.int32)
        m.v = np.zeros(p.size, np.int32)
        m.du, m.dv = int(p.du), int(p.dv)
        m.bias_mant = np.broadcast_to(np.asarray(p.bias_mant), (p.size,)).astype(np.int16)
        m.bias_exp = np.full(p.size, int(p.bias_exp), np.int16)
        m.vth = int(p.vth_mant)
        m.a_in, m.s_out = _Port(), _Port()
        m.s_out.value = np.zeros(p.size, bool)
        lifs[p.name] = m
    denses = []
    for c in net.connections:
        n_src, n_dst = net.size_of(c.src), net.size_of(c.dst)
        d = Dense({"weight_exp": int(c.w_exp), "num_weight_bits": 8})
        d.weights = np.asarray(c.dense_weights(n_dst, n_src), np.int32)
        d.a_buff = np.zeros(n_dst, np.int32)
        d.num_message_bits = np.array([0])
        d.s_in, d.a_out = _Port(), _Port()
        denses.append((c, d))
    s_all, u_all, v_all = [], [], []
    for t in range(raster.shape[0]):
        for _c, d in denses:  # each Dense sends what it accumulated at the step before
            d.a_out.value = d.a_buff.copy()
        for name, m in lifs.items():
            m.a_in.value = sum(d.a_buff for c, d in denses if c.dst == name)
            m.run_spk()
        for c, d in denses:  # then receives this step's spikes
            d.s_in.value = raster[t] if c.src == INPUT else lifs[c.src].s_out.value
            d.a_out = _Port()
            d.run_spk()
        s_all.append(np.concatenate([lifs[p.name].s_out.value for p in net.populations]))
        u_all.append(np.concatenate([lifs[p.name].u for p in net.populations]))
        v_all.append(np.concatenate([lifs[p.name].v for p in net.populations]))
    return np.array(s_all, bool), np.array(u_all, np.int64), np.array(v_all, np.int64)
