"""The API hidden checks are written with: ``@graded``, ``expect_array``, ``expect``, ``fail``.

Checks run in the grader's process. They receive plain data from the student's kernel and decide
here; see docs/authoring.md. Speed checks (a function timed by the grader's clock, its outputs
checked): ``pt2jax.checks.speed``.
"""

from __future__ import annotations

import contextlib
import importlib.util
import sys
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any, TypeVar

import numpy as np
import pytest

from ..errors import CheckFailed, StudentCrashed, StudentMissing, StudentRaised, StudentTimeout
from ..grade.observed import Timing, Trace
from ..grade.wire import Opaque, StudentArray, as_jax, as_torch, prng_key
from ..kit.check import ArrayFacts, compare_arrays, facts_of

__all__ = [
    "CheckFailed",
    "Opaque",
    "StudentArray",
    "StudentCrashed",
    "StudentMissing",
    "StudentRaised",
    "StudentTimeout",
    "Timing",
    "Trace",
    "as_jax",
    "as_torch",
    "call_fresh",
    "call_keeping_inputs",
    "call_transformed",
    "expect",
    "expect_array",
    "expect_close",
    "expect_tuple",
    "expect_unrelated",
    "extra_hints",
    "fail",
    "graded",
    "load_helper",
    "prng_key",
    "show",
    "trace_and_call",
]

F = TypeVar("F", bound=Callable[..., Any])
MARKER = "pt2jax_graded"  # the pytest marker @graded sets; the judge reads grade_id and points from it


def load_helper(path: str | Path) -> ModuleType:
    """Import a grader-side helper module that sits beside the checks (e.g. ``_reference.py``), once
    per process: the judge collects only ``test_*.py`` and imports check modules by path."""
    path = Path(path).resolve()
    name = f"_pt2jax_helper_{path.parent.name}_{path.stem}"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, path)
        if spec is None or spec.loader is None:
            raise ImportError(f"cannot load the check helper {path}")
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


def graded(grade_id: str, points: float) -> Callable[[F], F]:
    """Declare a hidden check worth ``points`` of the grade cell ``grade_id``."""
    if points <= 0:
        raise ValueError("a check must be worth a positive number of points")
    return getattr(pytest.mark, MARKER)(grade_id=grade_id, points=float(points))


def fail(message: str, hint: str | None = None) -> None:
    """Fail the check with ``message`` (and a misconception hint id)."""
    raise CheckFailed(message, (hint,) if hint else ())


def expect(condition: object, message: str, hint: str | None = None) -> None:
    """Fail with ``message`` unless ``condition`` holds."""
    if not (condition is True or (isinstance(condition, np.bool_) and bool(condition))):
        if condition is not False and not isinstance(condition, np.bool_):
            raise TypeError("expect() takes a plain bool computed in the grader")
        fail(message, hint)


def show(value: Any) -> str:
    """Describe student data in a few words for feedback."""
    if isinstance(value, StudentArray):
        return f"a {value.kind} of dtype {value.dtype} and shape {value.shape}"
    if isinstance(value, Opaque):
        return f"a {value.type_name}"
    if isinstance(value, tuple | list):
        return f"a {type(value).__name__} of {len(value)} items"
    return f"{type(value).__name__} {value!r:.60}"


def expect_tuple(got: Any, n: int, what: str, hint: str | None = None) -> tuple[Any, ...]:
    """The ``n`` items of a returned tuple (a list is accepted too); fail otherwise."""
    if isinstance(got, list):
        got = tuple(got)
    if not isinstance(got, tuple) or len(got) != n:
        fail(f"{what} should return a tuple of {n} items; it returned {show(got)}.", hint)
    return got


@contextlib.contextmanager
def extra_hints(*hint_ids: str) -> Iterator[None]:
    """Add misconception hints to any check failure raised inside the block (not to an
    unanswered exercise: a stub's NotImplementedError teaches nothing about habits)."""
    try:
        yield
    except CheckFailed as exc:
        if not (isinstance(exc, StudentRaised) and exc.exc_type == "NotImplementedError"):
            exc.hints = tuple(exc.hints) + hint_ids
        raise


def expect_close(got: Any, want: Any, what: str, hints: Iterable[str] = (), rel: float = 1e-4) -> None:
    """``expect_array`` for float32 results of matmuls and reductions: tolerance ``rel`` relative to
    the reference's scale (at least 1), which holds on CPU and GPU alike."""
    if hasattr(want, "detach"):
        want = want.detach()
    scale = max(1.0, float(np.abs(np.asarray(want)).max(initial=0.0)))
    expect_array(got, want, rtol=rel, atol=rel * scale, what=what, hints=hints)


def call_transformed(student: Any, helper: str, of: str, how: str, *args: Any) -> Any:
    """Call a locked notebook helper that applies a JAX transformation (jit, grad...) to the
    student's function ``of``; a failure inside the transformation is explained as such."""
    try:
        return student.call(helper, *args)
    except StudentRaised as exc:
        if exc.exc_type == "NotImplementedError":
            raise StudentRaised(f"`{of}`", exc.exc_type, exc.message) from None
        shown = exc.message if len(exc.message) <= 500 else exc.message[:500] + "..."
        raise CheckFailed(
            f"Your {of} fails inside a JAX transformation. The grader called {helper}(...), defined in the"
            f" self-check cell, which {how}; it raised {exc.exc_type}: {shown}", exc.hints) from None


def _ordinal(i: int) -> str:
    return {0: "first", 1: "second", 2: "third", 3: "fourth", 4: "fifth"}.get(i, f"#{i + 1}")


def _first_change(before: Any, after: Any, path: str) -> str | None:
    """Where student data ``after`` first differs from ``before`` (None when it does not)."""
    if isinstance(before, StudentArray) or isinstance(after, StudentArray):
        if not (isinstance(before, StudentArray) and isinstance(after, StudentArray)):
            return path
        if (before.kind, before.dtype, before.shape) != (after.kind, after.dtype, after.shape):
            return path
        nan = before.value.dtype.kind in "fc"
        return None if np.array_equal(before.value, after.value, equal_nan=nan) else path
    if type(before) is not type(after):
        return path
    if isinstance(before, list | tuple):
        if len(before) != len(after):
            return path
        for i, (b, a) in enumerate(zip(before, after, strict=True)):
            if (where := _first_change(b, a, f"{path}[{i}]")) is not None:
                return where
        return None
    if isinstance(before, dict):
        if set(before) != set(after):
            return path
        for key in before:
            if (where := _first_change(before[key], after[key], f"{path}[{key!r}]")) is not None:
                return where
        return None
    return None if before == after else path


def _where(path: str) -> str:
    return f"its {path} differs after the call" if path else "it differs after the call"


def call_keeping_inputs(student: Any, name: str, *args: Any, **kwargs: Any) -> Any:
    """``student.call`` for functions whose arguments must stay as they were (a pure function, the
    caller's parameters): fails with feedback when the call changed an argument in place (a dict or
    list of the caller's filled with new values, a tensor or NumPy array written into)."""
    value, before, after = student.call_with_inputs(name, *args, **kwargs)
    shown = f"`{name}(...)`"
    if not (isinstance(before, list) and isinstance(after, list) and len(before) == len(after) == 2):
        fail(f"{shown}: the grader could not see the arguments after the call.")
    for i, (b, a) in enumerate(zip(before[0], after[0], strict=False)):
        if (where := _first_change(b, a, "")) is not None:
            fail(f"{shown} changed its {_ordinal(i)} argument in place ({_where(where)}):"
                 " the caller's values must be left as they were. Build new containers and arrays and return"
                 " them, as `jax.tree.map(...)` does; never assign into what you were given.")
    for key, b in before[1].items() if isinstance(before[1], dict) else ():
        if (where := _first_change(b, after[1].get(key) if isinstance(after[1], dict) else None, "")) is not None:
            fail(f"{shown} changed its argument {key}= in place ({_where(where)}): the caller's"
                 " values must be left as they were.")
    return value


def call_fresh(student: Any, name: str, *args: Any, **kwargs: Any) -> Any:
    """``student.call`` in a new Python process that first ran the notebook's code (grade cells: their
    definitions only). Use it for what must survive a fresh process: a state written to a file and
    read back, numbers that must be determined by a key alone. Nothing kept in the kernel's memory (a
    module-level dict, a cache, NumPy's global generator) reaches this call."""
    return student.fresh_call(name, *args, **kwargs)


def expect_unrelated(a: np.ndarray, b: np.ndarray, what: str, hint: str | None = None) -> None:
    """Fail unless two samples that should be independent draws look independent: ``b`` must not
    repeat ``a``'s numbers (in any order, or with the sign flipped) and must not be correlated with it
    (linearly or by rank) beyond what chance allows. Meant for vectors of a few hundred numbers."""
    a = np.asarray(a, dtype=np.float64).ravel()
    b = np.asarray(b, dtype=np.float64).ravel()
    n = min(a.size, b.size)
    if n < 30:
        raise ValueError("expect_unrelated needs samples of at least 30 numbers")
    shared = np.isin(np.abs(b), np.abs(a)).mean()
    expect(bool(shared < 0.05),
           f"{what}: {shared:.0%} of the second draw's numbers also appear in the first (reordered, or with"
           " the sign flipped): both come from the same random numbers, not from independent draws.", hint)
    a, b = a[:n], b[:n]
    limit = 6.0 / np.sqrt(n)  # independent samples: |r| ~ 1/sqrt(n); 6 sigma
    for kind, x, y in (("linear", a, b), ("rank", np.argsort(np.argsort(a)), np.argsort(np.argsort(b)))):
        r = float(np.corrcoef(x, y)[0, 1]) if np.std(x) > 0 and np.std(y) > 0 else 1.0
        expect(bool(abs(r) < limit),
               f"{what}: the two draws are strongly related ({kind} correlation {r:+.2f} over {n} numbers):"
               " one is computed from the other, not drawn independently.", hint)


def trace_and_call(student: Any, name: str, *args: Any) -> tuple[Trace, Any]:
    """Trace ``name`` with ``jax.make_jaxpr`` and call it on the same arguments. The trace is the
    kernel's word (best effort); when its output shapes contradict the call's result, the
    disagreement is flagged for the instructor."""
    trace: Trace = student.trace(name, *args)
    value = student.call(name, *args)
    problem = trace.disagreement(value)
    if problem is not None:
        student.disagreements.append(f"trace of `{name}(...)`: {problem}")
    return trace, value


def _want_facts(want: Any) -> ArrayFacts:
    if isinstance(want, StudentArray):
        return want.facts
    facts = facts_of(want)
    if facts is None:
        facts = facts_of(np.asarray(want))
    assert facts is not None
    return facts


def expect_array(
    got: Any,
    want: Any,
    *,
    dtype: str | None = None,
    kind: str | None = "jax.Array",
    rtol: float = 1e-5,
    atol: float = 1e-6,
    what: str = "The result",
    hints: Iterable[str] = (),
) -> None:
    """Fail with teaching feedback unless ``got`` (student data) matches ``want`` (a reference)."""
    want_facts = _want_facts(want)
    extra = tuple(hints)
    if isinstance(got, np.ndarray):  # a value the check derived itself from student data
        facts = facts_of(got)
        assert facts is not None
        got = StudentArray(facts.value, facts.kind, facts.dtype, facts.shape)
    if not isinstance(got, StudentArray):
        shown = f"a {got.type_name}" if isinstance(got, Opaque) else f"{type(got).__name__} {got!r:.80}"
        expected = f"{kind or 'an array'} of dtype {dtype or want_facts.dtype} and shape {want_facts.shape}"
        kind_hint = ("python_scalar",) if isinstance(got, int | float | bool) else ()
        if isinstance(got, Opaque) and got.type_name.startswith("torch"):
            kind_hint = ("torch_not_jax",)
        raise CheckFailed(f"{what} should be {expected}; got {shown}.", kind_hint + extra)
    mismatch = compare_arrays(got.facts, want_facts, dtype=dtype, kind=kind, rtol=rtol, atol=atol)
    if mismatch is not None:
        raise CheckFailed(mismatch.render(what, with_hints=False), tuple(mismatch.hints) + extra)
