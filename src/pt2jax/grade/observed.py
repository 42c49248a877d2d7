"""Structural facts about a student's function: timings and traces.

They can only be observed inside the student's process, so they are untrusted: a notebook can patch
the clock or JAX there. Each fact is therefore paired with what the grader sees from outside (its
own clock around the request, the shapes of values it received) and a disagreement between the two
becomes an instructor flag. Verdicts use the grader's side wherever it exists (``Timing.wall_s``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

__all__ = ["Timing", "Trace", "parse_timing", "parse_trace"]

# How far the kernel's own clock may drift from the grader's before it is flagged: the grader's
# measurement also holds message passing and (de)serialisation, so only gross mismatches count.
_SLACK_S = 0.25


class MalformedFact(ValueError):
    """The kernel's report of a structural fact is not the plain data the probe helper sends."""


def _number(value: Any, what: str) -> float:
    if type(value) not in (int, float) or not math.isfinite(value) or value < 0:
        raise MalformedFact(f"{what} is not a non-negative number")
    return float(value)


def _count(value: Any, what: str) -> int:
    if type(value) is not int or value < 0:
        raise MalformedFact(f"{what} is not a count")
    return value


@dataclass(frozen=True)
class Timing:
    """Timing of ``calls`` calls of one function on the same arguments (each waited for).

    ``wall_s`` is the grader's own clock around the whole request minus the measured round trip of
    an empty request: trusted. The ``kernel_*`` fields and compile counts are the kernel's report.
    """

    calls: int
    wall_s: float
    kernel_first_s: float
    kernel_times: tuple[float, ...]
    first_compiles: int
    later_compiles: int

    @property
    def per_call_s(self) -> float:
        """Mean seconds per call, by the grader's clock."""
        return self.wall_s / self.calls

    @property
    def kernel_total_s(self) -> float:
        return self.kernel_first_s + sum(self.kernel_times)

    def disagreement(self) -> str | None:
        """Why the kernel's report cannot be true given the grader's clock (None when it can)."""
        total = self.kernel_total_s
        if total > self.wall_s * 1.1 + _SLACK_S:
            return (f"the notebook reported {total:.3f} s for {self.calls} calls, longer than the"
                    f" {self.wall_s:.3f} s the grader measured")
        if total < self.wall_s * 0.5 - _SLACK_S:
            return (f"the notebook reported {total:.3f} s for {self.calls} calls, but the grader measured"
                    f" {self.wall_s:.3f} s")
        if self.later_compiles and not self.first_compiles:
            return "the notebook reported compiles on repeated calls but none on the first"
        return None


def parse_timing(value: Any, wall_s: float) -> Timing:
    """Build a :class:`Timing` from the kernel's decoded report and the grader's wall time."""
    if not isinstance(value, dict) or set(value) != {"first_s", "times", "first_compiles", "later_compiles"}:
        raise MalformedFact("the timing report has the wrong fields")
    times = value["times"]
    if not isinstance(times, list) or len(times) > 10_000:
        raise MalformedFact("the timing report's times are not a list")
    return Timing(
        calls=1 + len(times),
        wall_s=max(wall_s, 0.0),
        kernel_first_s=_number(value["first_s"], "first_s"),
        kernel_times=tuple(_number(t, "a time") for t in times),
        first_compiles=_count(value["first_compiles"], "first_compiles"),
        later_compiles=_count(value["later_compiles"], "later_compiles"),
    )


@dataclass(frozen=True)
class Trace:
    """What ``jax.make_jaxpr`` saw of a function: whether it is a ``jax.jit`` wrapper, the jaxpr's
    text, how often each primitive occurs (nested jaxprs included) and the output shapes/dtypes."""

    jitted: bool
    text: str
    primitives: dict[str, int]
    out: tuple[tuple[tuple[int, ...], str], ...]
    top: tuple[str, ...] | None = None  # the top-level equations' primitives (None: not reported)

    def count(self, *primitives: str) -> int:
        """Occurrences of any of ``primitives``."""
        return sum(self.primitives.get(p, 0) for p in primitives)

    def disagreement(self, value: Any) -> str | None:
        """Compare the traced output shapes with a value the grader received from a real call."""
        leaves = _array_leaves(value)
        got = tuple((tuple(a.shape), a.dtype) for a in leaves)
        if len(got) != len(self.out) or any(g != o for g, o in zip(got, self.out, strict=True)):
            return f"the notebook's trace promised outputs {list(self.out)} but a call returned {list(got)}"
        return None


def _array_leaves(value: Any) -> list[Any]:
    if isinstance(value, tuple | list):
        return [leaf for v in value for leaf in _array_leaves(v)]
    if isinstance(value, dict):
        return [leaf for v in value.values() for leaf in _array_leaves(v)]
    return [value] if hasattr(value, "shape") and hasattr(value, "dtype") else []


def parse_trace(value: Any) -> Trace:
    """Build a :class:`Trace` from the kernel's decoded report."""
    if not isinstance(value, dict) or set(value) - {"top"} != {"jitted", "text", "primitives", "out"}:
        raise MalformedFact("the trace report has the wrong fields")
    top = value.get("top")
    if top is not None and not (isinstance(top, list) and len(top) <= 10_000 and all(isinstance(t, str) for t in top)):
        raise MalformedFact("the trace report's top-level equations are not names")
    if type(value["jitted"]) is not bool or not isinstance(value["text"], str):
        raise MalformedFact("the trace report's flags are not data")
    prims = value["primitives"]
    if not isinstance(prims, dict) or not all(isinstance(k, str) for k in prims):
        raise MalformedFact("the trace report's primitive counts are not a mapping")
    out = value["out"]
    if not isinstance(out, list) or not all(
        isinstance(o, list) and len(o) == 2 and isinstance(o[0], list) and isinstance(o[1], str) for o in out
    ):
        raise MalformedFact("the trace report's outputs are not shapes and dtypes")
    return Trace(
        jitted=value["jitted"],
        text=value["text"][:20000],
        primitives={k: _count(v, f"count of {k}") for k, v in prims.items()},
        out=tuple((tuple(_count(n, "a dimension") for n in shape), dtype) for shape, dtype in out),
        top=None if top is None else tuple(t[:80] for t in top),
    )
