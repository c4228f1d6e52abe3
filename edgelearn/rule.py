"""The rule language of the plasticity processor: text -> checked :class:`Rule` -> microcode.

Syntax and semantics: ``docs/spec.md`` sections 5 and 6. Example::

    dw = 2^-4 * x1 * (r - y1) when |r - y1| > 8 - 2^-9 * w
    t_epoch = 10

:func:`parse` checks everything (names, ranges, the width of every product) and raises
:class:`RuleError` naming the line, the column and the problem. :meth:`Rule.microcode` gives the
versioned bytes both engines execute; :func:`decode` reads them back. The rule's
hyperparameters (:class:`Hyper`: coefficient mantissas, trace decays and impulses, gate
thresholds) are kept apart from its structure, so they can be meta-trained and replaced on a
device without recompiling.
"""

from __future__ import annotations

import dataclasses
import numbers
import re
import struct
from pathlib import Path

from . import constants as C

#: variable name -> id used in microcode; bounds used by the width check
VARIABLES: dict[str, tuple[int, int, int]] = {
    "x0": (0, 0, 1), "x1": (1, 0, C.TRACE_MAX), "x2": (2, 0, C.TRACE_MAX),
    "y0": (3, 0, 1), "y1": (4, 0, C.TRACE_MAX), "y2": (5, 0, C.TRACE_MAX),
    "y3": (6, 0, C.TRACE_MAX), "r": (7, C.THIRD_MIN, C.THIRD_MAX),
    "w": (8, C.WEIGHT_MIN, C.WEIGHT_MAX), "e": (9, C.TAG_MIN, C.TAG_MAX),
}
VAR_NAMES = {v[0]: k for k, v in VARIABLES.items()}
CONST_ID = 0xFF
TRACES = ("x1", "x2", "y1", "y2", "y3")
TARGETS = {"dw": 0, "de": 1}
ROUNDING = {"stochastic": 0, "floor": 1, "nearest": 2}
MAGIC = b"ELRU"
CONST_MIN, CONST_MAX = -32768, 32767


def _is_int(v: object) -> bool:
    """An integer (Python or numpy), not a bool and not a float however integral."""
    return isinstance(v, numbers.Integral) and not isinstance(v, bool)


class RuleError(ValueError):
    """A rule that does not compile: ``line``, ``col`` (1-based) and the problem."""

    def __init__(self, msg: str, line: int = 0, col: int = 0, source: str | None = None):
        self.msg, self.line, self.col, self.source = msg, line, col, source
        where = f"{source}:" if source else ""
        where += f"line {line}, col {col}: " if line else ""
        super().__init__(f"{where}{msg}")


@dataclasses.dataclass(frozen=True)
class Factor:
    """A sum of ``(coefficient, variable)`` items plus an integer constant."""

    items: tuple[tuple[int, str], ...]
    const: int = 0

    def bound(self) -> int:
        b = abs(self.const)
        for k, name in self.items:
            lo, hi = VARIABLES[name][1:]
            b += abs(k) * max(abs(lo), abs(hi))
        return b

    def text(self) -> str:
        if len(self.items) == 1 and self.items[0][0] == 1 and self.const == 0:
            return self.items[0][1]
        parts = []
        for k, name in self.items:
            sign = "-" if k < 0 else "+"
            mag = f"{abs(k)}*" if abs(k) != 1 else ""
            parts.append(f"{sign} {mag}{name}")
        if self.const:
            parts.append(f"{'-' if self.const < 0 else '+'} {abs(self.const)}")
        s = " ".join(parts)
        s = s[2:] if s.startswith("+ ") else "-" + s[2:]
        return f"({s})"


@dataclasses.dataclass(frozen=True)
class Term:
    """``mant * 2^exp * prod(factors)``, applied where ``|gate| > gate_th`` if gated."""

    mant: int
    exp: int
    factors: tuple[Factor, ...]
    gate: Factor | None = None
    gate_th: int = 0

    def factor_bound(self) -> int:
        """Largest magnitude of the product of the factors (without the mantissa)."""
        b = 1
        for f in self.factors:
            b *= f.bound()
        return b

    def bound(self) -> int:
        return abs(self.mant) * self.factor_bound()

    def mant_limit(self) -> int:
        """Largest mantissa magnitude that keeps ``|P| < 2^24`` (the accumulator width)."""
        return min(-C.COEF_MANT_MIN, (C.PRODUCT_LIMIT - 1) // max(self.factor_bound(), 1))

    def text(self) -> str:
        coef = f"{self.mant} * 2^{self.exp}" if self.mant not in (1, -1) else (
            f"{'-' if self.mant < 0 else ''}2^{self.exp}")
        s = " * ".join([coef] + [f.text() for f in self.factors])
        if self.gate is not None:
            g = self.gate.text()
            s += f" when |{g[1:-1] if g.startswith('(') else g}| > {self.gate_th}"
        return s


@dataclasses.dataclass(frozen=True)
class Hyper:
    """A rule's hyperparameters as integers (the deployed values).

    ``coef``: mantissa of each term, targets in order (``dw`` then ``de``); ``decay`` and
    ``impulse``: per trace in the order ``x1 x2 y1 y2 y3``; ``gate``: threshold of each gated
    term, in term order.
    """

    coef: tuple[int, ...]
    decay: tuple[int, ...]
    impulse: tuple[int, ...]
    gate: tuple[int, ...]

    def check(self, rule: Rule) -> Hyper:
        n_terms = sum(len(t) for t in rule.targets.values())
        n_gates = sum(t.gate is not None for ts in rule.targets.values() for t in ts)
        for name, vals, n, lo, hi in (
                ("coef", self.coef, n_terms, C.COEF_MANT_MIN, C.COEF_MANT_MAX),
                ("decay", self.decay, 5, 0, C.DECAY_MAX),
                ("impulse", self.impulse, 5, 0, C.IMPULSE_MAX),
                ("gate", self.gate, n_gates, 0, CONST_MAX)):
            if len(vals) != n:
                raise ValueError(f"hyper.{name} needs {n} values, got {len(vals)}")
            for k, v in enumerate(vals):
                if not _is_int(v):
                    raise ValueError(f"hyper.{name}[{k}] must be an integer in [{lo}, {hi}], "
                                     f"got {v!r}")
                if not lo <= int(v) <= hi:
                    raise ValueError(f"hyper.{name}[{k}] = {v} is out of range [{lo}, {hi}]")
        for k, (_, term) in enumerate(rule.terms):
            lim = term.mant_limit()
            if abs(int(self.coef[k])) > lim:
                raise ValueError(f"hyper.coef[{k}] = {self.coef[k]} makes term {k} too wide for "
                                 f"the accumulator (|mantissa| <= {lim} keeps |P| < 2^24)")
        return self


@dataclasses.dataclass(frozen=True)
class Rule:
    """A checked rule: targets (``dw``, optional ``de``) and settings."""

    targets: dict[str, tuple[Term, ...]]
    t_epoch: int = 1
    w_min: int = C.WEIGHT_MIN
    w_max: int = C.WEIGHT_MAX
    rounding: str = "stochastic"
    decay: tuple[int, ...] = (0,) * 5
    impulse: tuple[int, ...] = (0,) * 5

    def __hash__(self) -> int:  # usable as static structure under jit
        return hash(self.microcode())

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Rule) and self.microcode() == other.microcode()

    @property
    def terms(self) -> tuple[tuple[str, Term], ...]:
        return tuple((tgt, t) for tgt in ("dw", "de") for t in self.targets.get(tgt, ()))

    @property
    def has_tag(self) -> bool:
        return "de" in self.targets

    def hyper(self) -> Hyper:
        return Hyper(coef=tuple(t.mant for _, t in self.terms), decay=self.decay,
                     impulse=self.impulse,
                     gate=tuple(t.gate_th for _, t in self.terms if t.gate is not None))

    def check(self) -> Rule:
        """Refuse (``ValueError`` naming the field) a rule that the C loader (``el_rule_load``)
        would refuse or that does not encode: everything :func:`parse` guarantees, for a rule
        built or changed by hand (``dataclasses.replace``). Returns the rule unchanged."""
        def setting(name: str, lo: int, hi: int) -> int:
            v = getattr(self, name)
            if not _is_int(v) or not lo <= int(v) <= hi:
                raise ValueError(f"rule {name} = {v!r} is not an integer in [{lo}, {hi}]")
            return int(v)

        setting("t_epoch", 1, C.T_EPOCH_MAX)
        w_min = setting("w_min", C.WEIGHT_MIN, C.WEIGHT_MAX)
        w_max = setting("w_max", C.WEIGHT_MIN, C.WEIGHT_MAX)
        if w_min > w_max:
            raise ValueError(f"rule w_min = {w_min} is above w_max = {w_max}")
        for name in ("decay", "impulse"):
            v = getattr(self, name)
            if not isinstance(v, (tuple, list)) or len(v) != len(TRACES):
                raise ValueError(f"rule {name} must be {len(TRACES)} integers (traces "
                                 f"{' '.join(TRACES)}), got {v!r}")
        if self.rounding not in ROUNDING:
            raise ValueError(f"rule rounding = {self.rounding!r} is not one of "
                             f"{', '.join(ROUNDING)}")
        if not isinstance(self.targets, dict) or "dw" not in self.targets or \
                not set(self.targets) <= set(TARGETS):
            raise ValueError(f"rule targets must be dw and optionally de, got "
                             f"{list(self.targets) if isinstance(self.targets, dict) else None}")
        for tgt, terms in self.targets.items():
            if not 1 <= len(terms) <= C.RULE_MAX_TERMS:
                raise ValueError(f"rule target {tgt} has {len(terms)} terms "
                                 f"(1 to {C.RULE_MAX_TERMS})")
        for k, (tgt, t) in enumerate(self.terms):
            for f in t.factors + ((t.gate,) if t.gate is not None else ()):
                for c, name in f.items:
                    if name not in VARIABLES or not _is_int(c):
                        raise ValueError(f"rule term {k} ({tgt}): item {c!r} * {name!r} needs "
                                         f"an integer and a variable of {', '.join(VARIABLES)}")
            if not _is_int(t.exp) or not C.COEF_EXP_MIN <= t.exp <= C.COEF_EXP_MAX:
                raise ValueError(f"rule term {k} ({tgt}): exponent {t.exp!r} is not an integer "
                                 f"in [{C.COEF_EXP_MIN}, {C.COEF_EXP_MAX}]")
            if t.gate is not None and t.gate.bound() >= C.PRODUCT_LIMIT:
                raise ValueError(f"rule term {k} ({tgt}): gate {t.gate.text()} can reach "
                                 f"{t.gate.bound()} >= 2^24 in magnitude")
            if t.bound() >= C.PRODUCT_LIMIT:
                raise ValueError(f"rule term {k} ({tgt}): product too wide for the accumulator: "
                                 f"|P| can reach {t.bound()} >= 2^24 in {t.text()}")
        self.hyper().check(self)  # coefficients, trace decays and impulses, gate thresholds
        try:
            code = self.microcode()
        except (struct.error, KeyError, TypeError, ValueError) as e:
            raise ValueError(f"rule does not encode as microcode: {e}") from None
        decode(code)  # the rest of the C loader's checks (factors, variables, constants)
        return self

    def with_hyper(self, hyper: Hyper) -> Rule:
        """The same structure with new hyperparameter values (checked)."""
        hyper.check(self)
        coef, gates = iter(hyper.coef), iter(hyper.gate)
        targets = {}
        for tgt, terms in self.targets.items():
            new = []
            for t in terms:
                th = next(gates) if t.gate is not None else 0
                new.append(dataclasses.replace(t, mant=int(next(coef)), gate_th=int(th)))
            targets[tgt] = tuple(new)
        return dataclasses.replace(self, targets=targets, decay=tuple(map(int, hyper.decay)),
                                   impulse=tuple(map(int, hyper.impulse)))

    def text(self) -> str:
        lines = []
        for tgt in ("dw", "de"):
            if tgt in self.targets:
                body = ""
                for k, t in enumerate(self.targets[tgt]):
                    s = t.text()
                    if k == 0:
                        body = s
                    elif s.startswith("-"):
                        body += " - " + s[1:]
                    else:
                        body += " + " + s
                lines.append(f"{tgt} = {body}")
        lines.append(f"t_epoch = {self.t_epoch}")
        lines.append(f"w_min = {self.w_min}")
        lines.append(f"w_max = {self.w_max}")
        lines.append(f"round = {self.rounding}")
        for k, name in enumerate(TRACES):
            if self.decay[k] or self.impulse[k]:
                lines.append(f"{name}.decay = {self.decay[k]}")
                lines.append(f"{name}.impulse = {self.impulse[k]}")
        return "\n".join(lines) + "\n"

    def microcode(self) -> bytes:
        """The versioned bytes both engines execute (layout: :func:`decode`)."""
        out = bytearray(MAGIC)
        flags = ROUNDING[self.rounding] | (4 if self.has_tag else 0)
        out += struct.pack("<HHHbb", C.RULE_VERSION, flags, self.t_epoch, self.w_min, self.w_max)
        for d, i in zip(self.decay, self.impulse, strict=True):
            out += struct.pack("<HH", d, i)
        out += struct.pack("<B", len(self.targets))
        for tgt in ("dw", "de"):
            if tgt not in self.targets:
                continue
            terms = self.targets[tgt]
            out += struct.pack("<BB", TARGETS[tgt], len(terms))
            for t in terms:
                out += struct.pack("<bbBBH", t.mant, t.exp, len(t.factors),
                                   1 if t.gate is not None else 0, t.gate_th)
                for f in ((t.gate,) if t.gate is not None else ()) + t.factors:
                    out += _pack_factor(f)
        return bytes(out)


def _pack_factor(f: Factor) -> bytes:
    out = bytearray(struct.pack("<B", len(f.items) + (1 if f.const else 0)))
    for k, name in f.items:
        out += struct.pack("<Bh", VARIABLES[name][0], k)
    if f.const:
        out += struct.pack("<Bh", CONST_ID, f.const)
    return bytes(out)


# --------------------------------------------------------------------------- parsing

_TOKEN = re.compile(r"\s*(?:(?P<num>\d+)|(?P<name>[A-Za-z_][A-Za-z0-9_.]*)|(?P<op>[-+*^()|>=]))")


@dataclasses.dataclass
class _Tok:
    kind: str
    text: str
    col: int


class _Parser:
    def __init__(self, text: str, line: int, source: str | None):
        self.line, self.source = line, source
        self.toks: list[_Tok] = []
        pos = 0
        stripped = text.rstrip()
        while pos < len(stripped):
            m = _TOKEN.match(stripped, pos)
            if not m or m.end() == pos:
                col = pos + len(stripped[pos:]) - len(stripped[pos:].lstrip()) + 1
                raise self.err(f"unexpected character {stripped[col - 1]!r}", col)
            kind = m.lastgroup or "op"
            self.toks.append(_Tok(kind, m.group(kind), m.start(kind) + 1))
            pos = m.end()
        self.i = 0
        self.end_col = len(stripped) + 1

    def err(self, msg: str, col: int | None = None) -> RuleError:
        if col is None:
            col = self.peek().col if self.peek() else self.end_col
        return RuleError(msg, self.line, col, self.source)

    def peek(self, k: int = 0) -> _Tok | None:
        j = self.i + k
        return self.toks[j] if j < len(self.toks) else None

    def next(self, what: str) -> _Tok:
        t = self.peek()
        if t is None:
            raise self.err(f"expected {what}, found end of line")
        self.i += 1
        return t

    def expect(self, text: str) -> _Tok:
        t = self.next(repr(text))
        if t.text != text:
            raise self.err(f"expected {text!r}, found {t.text!r}", t.col)
        return t

    def at(self, text: str) -> bool:
        t = self.peek()
        return t is not None and t.text == text

    def integer(self, what: str, lo: int, hi: int) -> int:
        neg = False
        t = self.peek()
        if t is not None and t.text in "+-" and t.kind == "op":
            neg = t.text == "-"
            self.i += 1
        t = self.next(what)
        if t.kind != "num":
            raise self.err(f"expected {what}, found {t.text!r}", t.col)
        v = -int(t.text) if neg else int(t.text)
        if not lo <= v <= hi:
            raise self.err(f"{what} {v} is out of range [{lo}, {hi}]", t.col)
        return v

    # term := [coef '*'] factor ('*' factor)* ['when' '|' sum '|' '>' INT]
    def term(self, sign: int) -> Term:
        start = self.peek()
        mant, exp, factors = 1, 0, []
        t = self.peek()
        if t is not None and t.kind == "num":
            col = t.col
            self.i += 1
            n = int(t.text)
            if self.at("^"):
                if n != 2:
                    raise self.err(f"a coefficient's power must be of 2, found {n}^", col)
                self.i += 1
                exp = self.integer("exponent", C.COEF_EXP_MIN, C.COEF_EXP_MAX)
            else:
                mant = n
                if self.at("*") and self.peek(1) is not None and self.peek(1).text == "2" and \
                        self.peek(2) is not None and self.peek(2).text == "^":
                    self.i += 3
                    exp = self.integer("exponent", C.COEF_EXP_MIN, C.COEF_EXP_MAX)
            mant *= sign
            if not C.COEF_MANT_MIN <= mant <= C.COEF_MANT_MAX:
                raise self.err(f"coefficient mantissa {mant} is out of range "
                               f"[{C.COEF_MANT_MIN}, {C.COEF_MANT_MAX}]", col)
            if self.at("*"):
                self.i += 1
                factors.append(self.factor())
        else:
            mant = sign
            factors.append(self.factor())
        while self.at("*"):
            self.i += 1
            factors.append(self.factor())
        gate, th = None, 0
        if self.at("when"):
            self.i += 1
            self.expect("|")
            gate = self.sum_expr(("|",))
            self.expect("|")
            self.expect(">")
            th = self.integer("gate threshold", 0, CONST_MAX)
        if len(factors) > C.RULE_MAX_FACTORS:
            raise self.err(f"a term has at most {C.RULE_MAX_FACTORS} factors", start.col)
        term = Term(mant, exp, tuple(factors), gate, th)
        if term.bound() >= C.PRODUCT_LIMIT:
            raise self.err(f"product too wide for the accumulator: |{term.text()}| can reach "
                           f"{term.bound()} >= 2^24", start.col)
        return term

    def factor(self) -> Factor:
        t = self.next("a variable or '('")
        if t.text == "(":
            f = self.sum_expr((")",))
            self.expect(")")
            return f
        if t.kind == "name":
            self._check_var(t)
            return Factor(((1, t.text),))
        raise self.err(f"expected a variable or '(', found {t.text!r}", t.col)

    def _check_var(self, t: _Tok) -> None:
        if t.text not in VARIABLES:
            raise self.err(f"unknown variable {t.text!r} (known: {', '.join(VARIABLES)})", t.col)

    def sum_expr(self, stop: tuple[str, ...]) -> Factor:
        items: dict[str, int] = {}
        const = 0
        sign = 1
        first = True
        while True:
            t = self.peek()
            if t is None or (t.text in stop and not first):
                break
            if t.text in "+-" and t.kind == "op":
                sign = -1 if t.text == "-" else 1
                self.i += 1
                t = self.next("a variable or an integer")
            elif not first:
                raise self.err(f"expected '+' or '-', found {t.text!r}", t.col)
            else:
                self.i += 1
            if t.kind == "num":
                const += sign * int(t.text)
            elif t.kind == "name":
                self._check_var(t)
                items[t.text] = items.get(t.text, 0) + sign
            else:
                raise self.err(f"expected a variable or an integer, found {t.text!r}", t.col)
            first, sign = False, 1
            if len(items) + (1 if const else 0) > C.RULE_MAX_ITEMS:
                raise self.err(f"a factor has at most {C.RULE_MAX_ITEMS} items", t.col)
        if first:
            raise self.err("empty factor")
        if not CONST_MIN <= const <= CONST_MAX:
            raise self.err(f"constant {const} is out of range [{CONST_MIN}, {CONST_MAX}]")
        return Factor(tuple((k, n) for n, k in items.items() if k != 0), const)

    def expression(self) -> tuple[Term, ...]:
        terms = []
        sign = 1
        if self.at("-"):
            sign = -1
            self.i += 1
        elif self.at("+"):
            self.i += 1
        terms.append(self.term(sign))
        while self.peek() is not None:
            t = self.next("'+' or '-'")
            if t.text not in "+-" or t.kind != "op":
                raise self.err(f"expected '+' or '-' between terms, found {t.text!r}", t.col)
            terms.append(self.term(-1 if t.text == "-" else 1))
        return tuple(terms)


def parse(text: str, *, source: str | None = None) -> Rule:
    """Parse and check a rule; raises :class:`RuleError` with line and column on any problem."""
    targets: dict[str, tuple[Term, ...]] = {}
    settings: dict[str, int | str] = {}
    decay, impulse = [0] * 5, [0] * 5
    seen_at: dict[str, int] = {}
    for lineno, raw in enumerate(text.splitlines(), start=1):
        line = raw.split("#", 1)[0]
        if not line.strip():
            continue
        p = _Parser(line, lineno, source)
        name = p.next("a target or a setting")
        if name.kind != "name":
            raise p.err(f"expected a target (dw, de) or a setting, found {name.text!r}",
                        name.col)
        p.expect("=")
        key = name.text
        if key in seen_at:
            raise p.err(f"{key!r} is set twice (first on line {seen_at[key]})", name.col)
        seen_at[key] = lineno
        if key in TARGETS:
            targets[key] = p.expression()
            if len(targets[key]) > C.RULE_MAX_TERMS:
                raise p.err(f"{key} has more than {C.RULE_MAX_TERMS} terms", name.col)
            continue
        if key == "round":
            v = p.next("stochastic, floor or nearest")
            if v.text not in ROUNDING:
                raise p.err(f"round must be stochastic, floor or nearest, found {v.text!r}",
                            v.col)
            settings[key] = v.text
        elif key in ("t_epoch", "w_min", "w_max"):
            lo, hi = (1, C.T_EPOCH_MAX) if key == "t_epoch" else (C.WEIGHT_MIN, C.WEIGHT_MAX)
            settings[key] = p.integer(key, lo, hi)
        elif "." in key and key.split(".")[0] in TRACES and key.split(".")[1] in (
                "decay", "impulse"):
            trace, field = key.split(".")
            hi = C.DECAY_MAX if field == "decay" else C.IMPULSE_MAX
            (decay if field == "decay" else impulse)[TRACES.index(trace)] = p.integer(key, 0, hi)
        elif key in VARIABLES or re.fullmatch(r"d[a-z0-9]+", key):
            raise p.err(f"unknown target {key!r} (targets: dw, de)", name.col)
        else:
            raise p.err(f"unknown setting {key!r} (settings: t_epoch, w_min, w_max, round, "
                        f"<trace>.decay, <trace>.impulse with trace in {', '.join(TRACES)})",
                        name.col)
        if p.peek() is not None:
            raise p.err(f"unexpected {p.peek().text!r} after the value")
    if "dw" not in targets:
        raise RuleError("missing target 'dw' (a rule must say how the weight changes)",
                        source=source)
    uses_e = any(name == "e" for ts in targets.values() for t in ts
                 for f in t.factors + ((t.gate,) if t.gate else ()) for _, name in f.items)
    if uses_e and "de" not in targets:
        raise RuleError("variable 'e' (the eligibility tag) is used but there is no 'de' target",
                        seen_at["dw"], 1, source)
    w_min = int(settings.get("w_min", C.WEIGHT_MIN))
    w_max = int(settings.get("w_max", C.WEIGHT_MAX))
    if w_min > w_max:
        raise RuleError(f"w_min = {w_min} is above w_max = {w_max}", seen_at.get("w_min", 0), 1,
                        source)
    return Rule(targets=targets, t_epoch=int(settings.get("t_epoch", 1)), w_min=w_min,
                w_max=w_max, rounding=str(settings.get("round", "stochastic")),
                decay=tuple(decay), impulse=tuple(impulse))


def load(path: str | Path) -> Rule:
    """Parse a rule file (errors name the file)."""
    path = Path(path)
    return parse(path.read_text(), source=str(path))


SHIPPED = ("stdp", "rstdp", "error_triggered", "hebbian_write")


def shipped(name: str) -> Rule:
    """One of the rules shipped as text in ``edgelearn/rules/`` (see :data:`SHIPPED`)."""
    if name not in SHIPPED:
        raise ValueError(f"no shipped rule {name!r}; shipped: {', '.join(SHIPPED)}")
    return load(Path(__file__).parent / "rules" / f"{name}.rule")


# --------------------------------------------------------------------------- microcode


def decode(code: bytes) -> Rule:
    """Read microcode back into a :class:`Rule`.

    Refuses (``ValueError``) everything the C loader (``el_rule_load``) refuses: bad magic,
    version or length, trailing bytes, and any field :func:`parse` could not have produced
    (flags, rounding, ``t_epoch`` 0, ``w_min > w_max``, trace parameters out of range, targets
    other than ``dw`` or ``dw, de``, a tag flag that disagrees with them, 0 or more than 16
    terms, exponents, more than 4 factors or items, gate flag / threshold, two constants in a
    factor, unknown variables, ``e`` without ``de``, a product or gate that can reach 2^24).
    """
    buf = memoryview(bytes(code))
    pos = 0

    def take(fmt: str):
        nonlocal pos
        n = struct.calcsize(fmt)
        if pos + n > len(buf):
            raise ValueError(f"rule microcode truncated at byte {pos} (needs {n} more)")
        vals = struct.unpack_from(fmt, buf, pos)
        pos += n
        return vals

    if bytes(buf[:4]) != MAGIC:
        raise ValueError(f"not rule microcode: magic {bytes(buf[:4])!r}, expected {MAGIC!r}")
    pos = 4
    version, flags, t_epoch, w_min, w_max = take("<HHHbb")
    if version != C.RULE_VERSION:
        raise ValueError(f"rule microcode version {version} is not supported "
                         f"(this build reads {C.RULE_VERSION})")

    def bad(what: str) -> ValueError:
        return ValueError(f"rule microcode: {what} (byte {pos})")

    if flags & ~7 or flags & 3 == 3:
        raise bad(f"flags 0x{flags:04x} not understood")
    has_tag = bool(flags & 4)
    if not 1 <= t_epoch <= C.T_EPOCH_MAX:
        raise bad(f"t_epoch {t_epoch} is out of range [1, {C.T_EPOCH_MAX}]")
    if w_min > w_max:
        raise bad(f"w_min = {w_min} is above w_max = {w_max}")
    decay, impulse = [], []
    for _ in range(5):
        d, i = take("<HH")
        if d > C.DECAY_MAX or i > C.IMPULSE_MAX:
            raise bad(f"trace decay {d} / impulse {i} out of range")
        decay.append(d)
        impulse.append(i)
    (n_targets,) = take("<B")
    if n_targets != 1 + has_tag:
        raise bad(f"{n_targets} targets with the tag flag {'set' if has_tag else 'clear'}")
    targets = {}
    names = {v: k for k, v in TARGETS.items()}
    for want in range(n_targets):
        tgt, n_terms = take("<BB")
        if tgt not in names:
            raise ValueError(f"rule microcode: unknown target id {tgt} at byte {pos - 2}")
        if tgt != want or not 1 <= n_terms <= C.RULE_MAX_TERMS:
            raise bad(f"target id {tgt} with {n_terms} terms (expected dw then de, "
                      f"1 to {C.RULE_MAX_TERMS} terms each)")
        terms = []
        for _ in range(n_terms):
            mant, exp, n_f, gated, th = take("<bbBBH")
            if not C.COEF_EXP_MIN <= exp <= C.COEF_EXP_MAX or n_f > C.RULE_MAX_FACTORS or \
                    gated > 1 or th > CONST_MAX or (not gated and th):
                raise bad(f"term (exp {exp}, {n_f} factors, gate {gated}, threshold {th}) "
                          f"out of range")
            fs = []
            for _ in range(n_f + gated):
                (n_items,) = take("<B")
                if n_items > C.RULE_MAX_ITEMS:
                    raise bad(f"a factor has {n_items} items (at most {C.RULE_MAX_ITEMS})")
                items, const, n_const = [], 0, 0
                for _ in range(n_items):
                    var, k = take("<Bh")
                    if var == CONST_ID:
                        const, n_const = k, n_const + 1
                    elif var in VAR_NAMES and (VAR_NAMES[var] != "e" or has_tag):
                        items.append((k, VAR_NAMES[var]))
                    else:
                        raise ValueError(f"rule microcode: unknown variable id {var}")
                if n_const > 1:
                    raise bad("a factor has two constants")
                fs.append(Factor(tuple(items), const))
            gate = fs.pop(0) if gated else None
            term = Term(mant, exp, tuple(fs), gate, th if gated else 0)
            if gate is not None and gate.bound() >= C.PRODUCT_LIMIT:
                raise bad(f"gate |{gate.text()}| can reach {gate.bound()} >= 2^24")
            if term.bound() >= C.PRODUCT_LIMIT:
                raise bad(f"product too wide: |{term.text()}| can reach {term.bound()} >= 2^24")
            terms.append(term)
        targets[names[tgt]] = tuple(terms)
    if pos != len(buf):
        raise ValueError(f"rule microcode has {len(buf) - pos} trailing bytes")
    rounding = {v: k for k, v in ROUNDING.items()}.get(flags & 3)
    if rounding is None:
        raise ValueError(f"rule microcode: unknown rounding mode {flags & 3}")
    return Rule(targets=targets, t_epoch=t_epoch, w_min=w_min, w_max=w_max, rounding=rounding,
                decay=tuple(decay), impulse=tuple(impulse))
