"""Speed checks: a student's function timed by the grader's clock on fresh inputs, its outputs checked.

What public speed leaderboards learned (docs/grading.md, "Speed checks") decides the shape of a run:

* every timed call gets **fresh inputs**, made in the kernel from seeds the grader draws, in an untimed
  request just before that call (a cache keyed by identity or value never hits, and the inputs of a
  later call do not exist yet when an earlier one runs, so work cannot be batched into the first call);
* timed calls run a few to a request (fast functions need several to rise above the probe's round
  trip), each on its own inputs, each waited for and read (sampled values) before the next starts, so
  asynchronous dispatch, a lazy object or a thread finishing later cannot end the request early; the
  request is timed by the **grader's clock** (a clock patched in the kernel changes nothing), and the
  cost of the request itself is a **baseline** request (the same bookkeeping around no-op calls)
  measured beside each one and subtracted;
* the output of every timed call has its exact kind, dtype and shape checked and its sampled values
  compared with the grader's reference; the outputs of calls the grader picks **after** timing are
  checked in full; the inputs are re-read after the call (mutated or donated inputs fail);
* verdicts use **medians**, and a median below a **physical floor** (the fewest bytes the computation
  must move divided by the memory bandwidth the grader measured in the same run) is flagged as
  implausible and not rewarded;
* **references** the verdicts compare with are the grader's own functions on the same inputs: in the
  grader's process (``references``), or in a kernel of the grader's own (:class:`ReferenceKernel`,
  ``kernel_references``) through the very request path the student's function is timed by, request by
  request beside it, the sides in an order drawn afresh for each request; the student's code cannot
  slow them. :meth:`SpeedRun.position` places the student between two references in log space, with
  the run's own gap between them (a gap near 1 means the run could not tell them apart);
* a verdict that fails, or that the run could not give (:meth:`Verdict.unmeasurable`), is **measured
  again** (:class:`Remeasured`): a whole fresh run, new inputs and new draws, references re-timed beside
  it, at most a few more times within a time budget, and the best run's verdict is kept. Other jobs'
  load only ever slows a run down, so an honest answer that a loaded machine made look slow passes in a
  quieter run, while every run checks everything above again (a cheat fails in each run, an eager
  answer is slower than the line in each). When no run could measure, the check decides otherwise
  (05_jit: on the function's structure, with a flag for the instructor), never on the timing alone.
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import CheckFailed
from ..grade.observed import Trace
from ..grade.wire import StudentArray, WireError, decode_npy

__all__ = [
    "CALLBACK_PRIMITIVES",
    "InputSpec",
    "ReferenceKernel",
    "Remeasured",
    "SpeedRun",
    "Verdict",
    "expect_compiled",
    "fresh_calls",
    "measure_speed",
    "median_time",
    "regenerate",
]

SAMPLES = 64  # values of every timed output read back and compared at once
FLOOR_TOLERANCE = 0.25  # a median under this share of the physical floor cannot be an honest time
CALLBACK_PRIMITIVES = ("pure_callback", "io_callback", "debug_callback", "callback")


@dataclass(frozen=True)
class InputSpec:
    """One input of a timed call: ``normal(key(seed), shape) * scale`` cast to ``dtype``, made with
    ``jax.random`` in the kernel and again, bit for bit, in the grader."""

    seed: int
    shape: tuple[int, ...]
    dtype: str = "float32"
    scale: float = 1.0

    def wire(self) -> dict[str, Any]:
        return {"seed": self.seed, "shape": list(self.shape), "dtype": self.dtype, "scale": self.scale}

    @property
    def nbytes(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64)) * np.dtype(self.dtype).itemsize


def regenerate(spec: InputSpec) -> Any:
    """The grader's copy of an input (a jax.Array, the same bits as the kernel's)."""
    import jax

    value = jax.random.normal(jax.random.key(int(spec.seed)), spec.shape, "float32")
    return jax.block_until_ready((value * float(spec.scale)).astype(spec.dtype))


def fresh_calls(rng: np.random.Generator, shapes: Sequence[tuple[int, ...]], n: int, *,
                dtype: str = "float32", scales: Sequence[float] | None = None) -> list[list[InputSpec]]:
    """``n`` calls' inputs of the given shapes, every one from its own seed."""
    seeds = rng.choice(2**31 - 1, size=n * len(shapes), replace=False)
    scales = scales or [1.0] * len(shapes)
    return [[InputSpec(int(seeds[i * len(shapes) + j]), tuple(int(d) for d in shape), dtype, float(scales[j]))
             for j, shape in enumerate(shapes)] for i in range(n)]


_SCRATCH: list[np.ndarray] = []
EVICT_BYTES = 128 * 2**20  # more than any CPU's last-level cache here (32 MiB on the dev box)


def evict_caches() -> None:
    """Write a buffer larger than the CPU's caches, so the next call reads its inputs from memory, as
    the student's call does (its inputs were made before the other calls of its request)."""
    if not _SCRATCH:
        _SCRATCH.append(np.zeros(EVICT_BYTES // 8))
    np.add(_SCRATCH[0], 1.0, out=_SCRATCH[0])


def median_time(fn: Callable[..., Any], args: Sequence[Any]) -> float:
    """One call of a grader-side function on inputs not in the CPU's caches, waited for, by the
    grader's clock."""
    import jax

    evict_caches()
    start = time.perf_counter()
    jax.block_until_ready(fn(*args))
    return time.perf_counter() - start


@dataclass(frozen=True)
class SpeedRun:
    """A student's function timed call by call by the grader's clock (baseline subtracted), beside the
    grader's references timed on the same inputs in the same run."""

    name: str
    first_s: float
    times_s: tuple[float, ...]
    baseline_s: tuple[float, ...]
    first_compiles: int
    later_compiles: int
    references: Mapping[str, tuple[tuple[float, ...], ...]] = field(default_factory=dict)  # per timed request
    bandwidth_bps: float | None = None
    min_bytes: int | None = None

    @classmethod
    def pooled(cls, runs: Sequence[SpeedRun]) -> SpeedRun:
        """Several runs of one function (same shapes) as one: their timed requests side by side, each
        still paired with the references timed beside it. For verdicts judged by the run's own
        references, where the load on the machine moves both sides alike: more requests make a better
        estimate, where the best of several runs would favour a slow answer's luckiest run."""
        first = runs[0]
        bandwidths = [r.bandwidth_bps for r in runs if r.bandwidth_bps]
        return cls(name=first.name, first_s=first.first_s, times_s=tuple(t for r in runs for t in r.times_s),
                   baseline_s=tuple(b for r in runs for b in r.baseline_s), first_compiles=first.first_compiles,
                   later_compiles=sum(r.later_compiles for r in runs),
                   references={k: tuple(q for r in runs for q in r.references[k]) for k in first.references},
                   bandwidth_bps=float(np.median(bandwidths)) if bandwidths else None, min_bytes=first.min_bytes)

    @property
    def median_s(self) -> float:
        """The student's median time per call: one call, however fast, cannot move it."""
        return float(np.median(self.times_s))

    def reference_s(self, name: str) -> float:
        """Median time per call of one of the grader's references."""
        return float(np.median([t for request in self.references[name] for t in request]))

    def ratio_to(self, name: str, *, minus_noise: float = 0.0) -> float:
        """Median over timed requests of (the student's time per call, less ``minus_noise`` times the
        baseline's deviation but never more than a quarter of it) / (the reference's median on that
        request's inputs): each pair measured moments apart, so a load spike on a shared machine moves
        both sides of a ratio."""
        ratios = [max(t - minus_noise * self.noise_s, 0.75 * t) / max(float(np.median(r)), 1e-9)
                  for t, r in zip(self.times_s, self.references[name], strict=True)]
        return float(np.median(ratios))

    def position(self, fast: str, slow: str) -> tuple[float, float]:
        """Where the student's time sits between two of the grader's references timed beside it, in log
        space, and the run's own gap between them: ``(median log(s/fast) / median log(slow/fast),
        exp(median log(slow/fast)))`` over the timed requests, each request's three times measured moments
        apart. 0 is the ``fast`` reference's speed, 1 the ``slow`` one's; below 0.5 the student is nearer
        the fast one. The gap is what the run could show at all: near 1 the machine was too busy (or too
        noisy) for the two references to differ, and the position means nothing (``nan`` when the gap
        is not above 1)."""
        floor = 1e-6  # a time the baseline's noise took to 0 counts as a microsecond
        s = np.log(np.maximum(np.asarray(self.times_s), floor))
        f = np.log(np.maximum([float(np.median(r)) for r in self.references[fast]], floor))
        w = np.log(np.maximum([float(np.median(r)) for r in self.references[slow]], floor))
        gap = float(np.median(w - f))
        return (float(np.median(s - f)) / gap if gap > 0 else math.nan), float(math.exp(gap))

    @property
    def noise_s(self) -> float:
        """How much the request's own cost varies (median absolute deviation of the baselines)."""
        base = np.asarray(self.baseline_s)
        return float(np.median(np.abs(base - np.median(base)))) if base.size else 0.0

    @property
    def floor_s(self) -> float | None:
        """The least time the computation can take: its bytes over the bandwidth measured in this run."""
        if not self.bandwidth_bps or not self.min_bytes:
            return None
        return self.min_bytes / self.bandwidth_bps

    def implausible(self) -> str | None:
        """Why the student's median cannot be an honest time (None when it can). Judged on the time per
        call *with* the request's own cost (the baseline) left in, an upper bound of the true time: the
        baseline subtracted, noise alone takes an honest fast function to zero on a busy machine."""
        floor = self.floor_s
        base = float(np.median(self.baseline_s)) if self.baseline_s else 0.0
        if (floor is None or self.median_s + base >= FLOOR_TOLERANCE * floor or not self.min_bytes
                or not self.bandwidth_bps):
            return None
        return (f"`{self.name}` took a median {self.median_s * 1e3:.3f} ms per call, under"
                f" {FLOOR_TOLERANCE:.0%} of the {floor * 1e3:.3f} ms it takes just to move its"
                f" {self.min_bytes / 1e6:.1f} MB through memory at the {self.bandwidth_bps / 1e9:.1f} GB/s"
                " the grader measured in the same run")

    def fast_outliers(self) -> int:
        """Requests faster per call than the floor allows (the median ignores them)."""
        floor = self.floor_s
        return 0 if floor is None else sum(t < FLOOR_TOLERANCE * floor for t in self.times_s)


def _fail(message: str, hints: Sequence[str] = ()) -> None:
    raise CheckFailed(message, tuple(hints))


def _decode_npy(student: Any, text: Any, what: str) -> np.ndarray:
    try:
        value = decode_npy(text)
    except WireError as exc:
        student.disagreements.append(f"speed run: {what} could not be read ({exc})")
        _fail(f"The grader could not read {what} back from the notebook.")
    return np.asarray(value, dtype=np.float64).ravel()


def _low_precision(got: np.ndarray, want: np.ndarray) -> bool:
    """Whether ``got`` misses ``want`` the way a narrower dtype would: every value off by at most a few
    bfloat16 roundings of the values' scale, many by more than float32's rounding."""
    err = np.abs(got - want) / max(float(np.abs(want).max(initial=0.0)), 1.0)
    return bool(np.all(err < 2**-5) and np.mean(err > 1e-6) > 0.25)


def _check_facts(student: Any, label: str, facts: Any, want: np.ndarray, inputs: list[np.ndarray],
                 positions: np.ndarray, dtype: str, rtol: float, atol: float, hints: Sequence[str]) -> int:
    """Verdict on one timed call's return, read by the kernel right after the call; its compiles."""
    if not isinstance(facts, dict) or not isinstance(facts.get("kind"), str):
        _fail(f"{label}: the grader got no report of what the call returned.")
    kind = facts["kind"]
    if kind != "jax.Array":
        _fail(f"{label} returned a {kind[:80]}, not a jax.Array. A timed function must return its result as a"
              " finished jax.Array: an object that computes later (a lazy wrapper, a future) or a NumPy array or"
              " torch tensor is not what the exercise asks for.", ("deferred_result",))
    if facts.get("dtype") != dtype or facts.get("shape") != list(want.shape):
        _fail(f"{label} returned dtype {facts.get('dtype')} and shape {tuple(facts.get('shape') or ())};"
              f" expected {dtype} and {tuple(want.shape)}. Computing in a narrower dtype to gain speed changes"
              " the answer.", ("low_precision",) if facts.get("dtype") in ("bfloat16", "float16") else ())
    if type(facts.get("threads")) is int and facts["threads"] > 0:
        _fail(f"{label} left {facts['threads']} thread(s) of its own running after it returned: the work of a"
              " timed call must be done when it returns, not finished later in the background.",
              ("deferred_result",))
    deleted = facts.get("deleted")
    if isinstance(deleted, list) and any(d is True for d in deleted):
        _fail(f"{label} deleted (donated) the grader's input number {deleted.index(True) + 1}:"
              " `donate_argnums` lets XLA reuse an input's memory, so the caller's array is gone after the"
              " call. Donate only arrays the caller will not use again (a train step's old state), never"
              " a function's inputs in general.", ("donated_input",))
    got = _decode_npy(student, facts.get("samples"), "the sampled output")
    idx = positions % max(want.size, 1)
    ref = want.reshape(-1)[idx].astype(np.float64)
    if got.shape != ref.shape or not np.allclose(got, ref, rtol=rtol, atol=atol, equal_nan=True):
        same = got.shape == ref.shape
        bad = int(np.argmax(~np.isclose(got, ref, rtol=rtol, atol=atol, equal_nan=True))) if same else 0
        shown = (f"at flat index {int(idx[bad])}: expected {ref[bad]:.6g}, got {got[bad]:.6g}"
                 if got.shape == ref.shape else "a different number of values")
        _fail(f"{label} returned wrong values ({shown}), read the moment the call returned. Each timed call"
              " gets new inputs: a result remembered from an earlier call, computed in lower precision, or"
              " still being written by other code when the call returns does not match.",
              (*hints, *(("low_precision",) if got.shape == ref.shape and _low_precision(got, ref) else ())))
    for n, (text, value) in enumerate(zip(facts.get("input_samples") or [], inputs, strict=False)):
        if text is None:
            continue
        seen = _decode_npy(student, text, "the sampled inputs")
        flat = value.reshape(-1)[positions % max(value.size, 1)].astype(np.float64)
        if seen.shape != flat.shape or not np.array_equal(seen, flat, equal_nan=True):
            _fail(f"{label} changed its input number {n + 1} in place: the caller's arrays must be left as"
                  " they were.", ("inplace_update",))
    compiles = facts.get("compiles")
    return compiles if type(compiles) is int and compiles >= 0 else 0


def _less_baseline(walls: Sequence[float], bases: Sequence[float], *, floor: float) -> list[float]:
    """Per-request times per call less the median of the baseline requests (the request's own
    bookkeeping), never under ``floor``."""
    base = float(np.median(bases))
    return [max(w - base, floor) for w in walls]


def measure_speed(
    student: Any,
    name: str,
    calls: Sequence[Sequence[InputSpec]],
    *,
    reference: Callable[..., Any],
    rng: np.random.Generator,
    per_request: int = 1,
    dtype: str = "float32",
    references: Mapping[str, Callable[..., Any]] | None = None,
    min_bytes: int | None = None,
    rtol: float = 1e-5,
    atol: float = 1e-6,
    full_checks: int = 2,
    hints: Sequence[str] = (),
    kernel_references: Mapping[str, str] | None = None,
    reference_kernel: ReferenceKernel | Mapping[str, ReferenceKernel] | None = None,
) -> SpeedRun:
    """Time ``name`` on ``calls`` and check every timed output; see the module docstring.

    ``calls[0]`` is the warm-up (compile time, kept apart as ``first_s``); the others are timed
    ``per_request`` to a request (each call on its own fresh inputs, each waited for and read before
    the next starts): a request's wall time minus the baseline, over ``per_request``, is one sample of
    the time per call. Fast functions need several calls per request to rise above the probe's round
    trip. ``reference(*numpy inputs)`` gives the right output (NumPy or torch); ``references`` are
    grader-side JAX functions timed on the same inputs in the same run; ``min_bytes`` is the fewest
    bytes one call must move (the physical floor). ``kernel_references`` (label -> function name) are
    timed instead in ``reference_kernel``, the grader's own kernel, through the very request path the
    student's function is timed by (stage, baseline, timed), request by request beside the student's:
    like is compared with like (the kernel's memory behaviour and bookkeeping are on both sides); a
    mapping (label -> kernel) times each reference in a kernel of its own."""
    import jax

    per = max(1, int(per_request))
    requests = [list(calls[:1])] + [list(calls[i:i + per]) for i in range(1, len(calls) - per + 1, per)]
    if len(requests) < 3:
        raise ValueError("a speed run needs a warm-up call and at least two timed requests")
    label = f"`{name}(...)`"
    positions = rng.integers(0, 2**31 - 1, size=SAMPLES)
    wire_positions = [int(p) for p in positions]
    # which timed calls are read back whole: drawn here, never sent to the kernel before those calls ran
    picked = {int(i): int(rng.integers(len(requests[int(i)])))
              for i in rng.choice(np.arange(1, len(requests)), size=min(full_checks, len(requests) - 1), replace=False)}
    refs = dict(references or {})
    ref_times: dict[str, list[list[float]]] = {k: [] for k in refs}
    copy = jax.jit(lambda a: a * 2)
    bandwidth: list[float] = []
    walls: list[float] = []
    baselines: list[float] = []
    compiles: list[int] = []
    kernels: dict[str, ReferenceKernel | None] = (
        dict(reference_kernel) if isinstance(reference_kernel, Mapping)
        else dict.fromkeys(kernel_references or {}, reference_kernel))
    found = {k: kernels.get(k) for k in kernel_references or {}}
    cleans = {k: kernel.student() for k, kernel in found.items() if kernel is not None} \
        if found and all(kernel is not None for kernel in found.values()) else {}
    kref_walls: dict[str, list[float]] = {k: [] for k in cleans}
    kref_bases: dict[str, list[float]] = {k: [] for k in kref_walls}

    def time_in_clean_kernel(key: str, slot: str, group: Sequence[Sequence[InputSpec]], out: Mapping[str, Any]) -> None:
        """One of the grader's references on this request's inputs, the way the student's function is timed."""
        assert kernel_references is not None
        clean, fn_name = cleans[key], kernel_references[key]
        ref_slot = f"ref-{key}-{slot}"
        clean.speed_op("stage", fn_name, slot=ref_slot, calls=[[s.wire() for s in specs] for specs in group],
                       out=dict(out))
        _, rbase = clean.speed_op("timed", fn_name, slot=ref_slot, positions=wire_positions, baseline=True)
        _, rwall = clean.speed_op("timed", fn_name, slot=ref_slot, positions=wire_positions)
        clean.speed_op("release", fn_name, slot=ref_slot)
        kref_bases[key].append(float(rbase) / len(group))
        kref_walls[key].append(float(rwall) / len(group))

    def want_of(specs: Sequence[InputSpec]) -> tuple[np.ndarray, list[np.ndarray], list[Any]]:
        arrays = [regenerate(s) for s in specs]
        host = [np.asarray(a) for a in arrays]
        out = reference(*host)
        if hasattr(out, "detach"):
            out = out.detach().cpu().numpy()
        return np.asarray(out), host, arrays

    def time_the_student(i: int, slot: str, group: Sequence[Sequence[InputSpec]], out: Mapping[str, Any],
                         expected: Sequence[tuple[np.ndarray, list[np.ndarray], list[Any]]]) -> None:
        student.speed_op("stage", name, slot=slot, calls=[[s.wire() for s in specs] for specs in group], out=dict(out))
        _, base = student.speed_op("timed", name, slot=slot, positions=wire_positions, baseline=True)
        reports, wall = student.speed_op("timed", name, slot=slot, positions=wire_positions)
        if not (isinstance(reports, list) and len(reports) == len(group)):
            _fail(f"{label}: the grader got no report of what the timed calls returned.")
        for key in ref_times if i else ():
            ref_times[key].append([])
        for j, (specs, facts) in enumerate(zip(group, reports, strict=True)):
            want, host, arrays = expected[j]
            what = "the first call" if i == 0 else f"timed call {(i - 1) * per + j + 1}"
            compiles.append(_check_facts(student, f"{label} ({what})", facts, want, host, positions, dtype,
                                         rtol, atol, hints))
            if i == 0:
                for fn in refs.values():  # warm-up (compiles) of the grader's own functions
                    median_time(fn, arrays)
                median_time(copy, arrays[:1])
                continue
            for key, fn in refs.items():
                ref_times[key][-1].append(median_time(fn, arrays))
            bandwidth.append(2 * specs[0].nbytes / max(median_time(copy, arrays[:1]), 1e-9))
            if picked.get(i) == j:
                got, _ = student.speed_op("fetch", name, slot=slot, index=j)
                close = isinstance(got, StudentArray) and got.shape == want.shape and bool(
                    np.allclose(got.value.astype(np.float64), want, rtol=rtol, atol=atol, equal_nan=True))
                if not close:
                    _fail(f"{label} ({what}, read back whole after timing) differs from the reference: its"
                          " sampled values matched when it returned, so the rest of the array was written"
                          " later or not at all.", ("deferred_result",))
        student.speed_op("release", name, slot=slot)
        baselines.append(float(base) / len(group))
        walls.append(float(wall) / len(group))

    # within each request the student's side and each kernel reference are timed in an order drawn
    # afresh (a drift in the machine's load over a request cannot favour one side); the draws are the
    # grader's and never reach the kernel
    sides = ["", *kref_walls]
    try:
        for i, group in enumerate(requests):
            slot = f"{i}"
            expected = [want_of(specs) for specs in group]
            out = {"shape": list(expected[0][0].shape), "dtype": dtype}
            for k in rng.permutation(len(sides)) if len(sides) > 1 else (0,):
                if sides[int(k)]:
                    time_in_clean_kernel(sides[int(k)], slot, group, out)
                else:
                    time_the_student(i, slot, group, out, expected)
    finally:
        with contextlib.suppress(CheckFailed):
            student.speed_op("release", name)
    # the first request compiles: not a sample, on either side; each side less its own bookkeeping
    for key, kwalls in kref_walls.items():
        ref_times[key] = [[t] for t in _less_baseline(kwalls[1:], kref_bases[key][1:], floor=1e-6)]
    run = SpeedRun(
        name=name,
        first_s=max(walls[0] - baselines[0], 0.0),
        times_s=tuple(_less_baseline(walls[1:], baselines[1:], floor=0.0)),
        baseline_s=tuple(baselines[1:]),
        first_compiles=compiles[0],
        later_compiles=sum(compiles[1:]),
        references={k: tuple(tuple(r) for r in v) for k, v in ref_times.items()},
        bandwidth_bps=float(np.median(bandwidth)) if bandwidth else None,
        min_bytes=min_bytes,
    )
    if run.later_compiles:
        _fail(f"{label} compiled again on {run.later_compiles} of {len(calls) - 1} calls with inputs of the same"
              " shapes and dtypes. A jitted function compiles once per input shape; recompiling on every call"
              " (jax.jit(...) inside the function, a new lambda each time, a Python value as a static"
              " argument that changes) costs the compile every time.", ("recompiles",))
    problem = run.implausible()
    if problem is not None:
        student.disagreements.append(f"speed run: {problem}")
        _fail(f"{problem}: a time below what the hardware can do is not rewarded (your instructor will look"
              " at it).")
    # single requests under the floor are left to the median: with the round trip subtracted, noise on a
    # loaded machine gives an honest fast function such requests too (no flag for the instructor)
    return run


def expect_compiled(trace: Trace, what: str, *, loop: bool = False, max_count: Mapping[str, int] | None = None) -> None:
    """Fail unless ``trace`` is of a jitted function whose jaxpr is one compiled call without host
    callbacks (``loop``: with a ``lax`` loop in it; ``max_count``: at most so many of a primitive, e.g.
    ``{"dot_general": 2}`` against a Python-unrolled loop)."""
    if not trace.jitted:
        _fail(f"{what} is not a jax.jit (or nnx.jit) function: the grader found a plain Python function."
              " Decorate it with @jax.jit, or assign the jitted version to the name asked for.", ("not_jitted",))
    top = trace.top
    if top is not None and (len(top) != 1 or top[0] not in ("jit", "pjit")):
        _fail(f"{what}: its jaxpr should be one compiled call (one `jit` equation); it has {len(top)} top-level"
              f" equations ({', '.join(top[:6])}): part of the work runs outside the compiled function.",
              ("not_jitted",))
    found = [p for p in CALLBACK_PRIMITIVES if trace.count(p)]
    if found:
        _fail(f"{what} calls back to Python on the host from inside the compiled function ({', '.join(found)}):"
              " the work must be JAX operations XLA can compile, not NumPy or torch called through a callback.",
              ("host_in_traced",))
    if loop and not trace.count("while", "scan"):
        _fail(f"{what}: its jaxpr holds no `while` or `scan`: the loop was unrolled by Python at trace time"
              " (one copy of the body per step). Use lax.fori_loop or lax.scan.", ("python_unrolled",))
    for prim, most in (max_count or {}).items():
        if trace.count(prim) > most:
            _fail(f"{what}: its jaxpr holds {trace.count(prim)} `{prim}` operations, expected at most {most}: a"
                  " Python loop copies its body into the program once per step. Use lax.fori_loop or lax.scan.",
                  ("python_unrolled",))


@dataclass(frozen=True)
class Verdict:
    """One speed verdict on one run: ``margin`` is how far the run is past the line, as a factor (the
    speedup over the one asked for, or the allowed ratio over the measured one): at least 1 passes.
    ``shown`` is the run's figure for the feedback (e.g. ``"0.62x"``), ``message`` the feedback. An
    ``inconclusive`` verdict is one the run could not give (the grader's own references did not differ
    enough in it to tell a fast answer from a slow one): it neither passes nor fails."""

    margin: float
    message: str
    shown: str = ""
    inconclusive: bool = False

    @property
    def passed(self) -> bool:
        return bool(self.margin >= 1.0) and not self.inconclusive

    @classmethod
    def at_least(cls, got: float, need: float, message: str, shown: str = "") -> Verdict:
        """A verdict that passes when ``got >= need``."""
        return cls(got / need if need > 0 else math.inf, message, shown)

    @classmethod
    def at_most(cls, got: float, limit: float, message: str, shown: str = "") -> Verdict:
        """A verdict that passes when ``got <= limit``."""
        return cls(limit / got if got > 0 else math.inf, message, shown)

    @classmethod
    def unmeasurable(cls, message: str, shown: str = "") -> Verdict:
        """A verdict the run cannot give (see ``inconclusive``); ``message`` says why."""
        return cls(0.0, message, shown, inconclusive=True)


class Remeasured:
    """The speed runs of one function in one grade: measured once, and measured again when a verdict
    fails, so that a machine loaded by other jobs cannot cost an honest answer its points.

    ``measure()`` makes one whole fresh :func:`measure_speed` run (new inputs and draws, the references
    timed again beside it); any run that fails its own checks (values, compiles, the physical floor, the
    cheats) fails every verdict. A failing verdict asks for another run while fewer than ``extra`` have
    been made and the time they took, plus one more run as long as the longest so far, fits in
    ``budget_s``; the verdict is the best over every run made so far (the checks of one function share
    them). Load only ever slows a run, so the best run is the fairest one, and an answer slower than the
    line in every run still fails; its feedback says how many runs were taken."""

    def __init__(self, measure: Callable[[], SpeedRun], *, extra: int, budget_s: float,
                 clock: Callable[[], float] = time.perf_counter) -> None:
        self._measure = measure
        self._clock = clock
        self.extra = max(0, int(extra))
        self.budget_s = float(budget_s)
        self.runs: list[SpeedRun] = []
        self.run_s: list[float] = []  # how long each run took, by the grader's clock
        self.failure: CheckFailed | None = None

    def _take(self) -> None:
        start = self._clock()
        try:
            run = self._measure()
        except CheckFailed as exc:
            again = (f" (in run {len(self.runs) + 1}: a speed check that fails is measured again, and every run"
                     " is checked in full)") if self.runs else ""
            self.failure = CheckFailed(exc.feedback + again, exc.hints)
            raise self.failure from None
        finally:
            self.run_s.append(self._clock() - start)
        self.runs.append(run)

    def _room(self) -> bool:
        return (len(self.runs) - 1 < self.extra
                and sum(self.run_s[1:]) + max(self.run_s) <= self.budget_s)

    def first(self) -> SpeedRun:
        """The first run (made now if it is not yet); raises what any run so far failed with."""
        if self.failure is not None:
            raise CheckFailed(self.failure.feedback, self.failure.hints)
        if not self.runs:
            self._take()
        return self.runs[0]

    def expect(self, judge: Callable[[SpeedRun], Verdict], hints: Sequence[str] = (),
               inconclusive: Callable[[list[Verdict]], None] | None = None, *, pooled: bool = False) -> SpeedRun:
        """Pass if ``judge`` passes on any run (re-measuring while no run passed and there is room); else
        fail with the best run's feedback. Returns the run that passed.

        ``pooled``: ``judge`` sees the runs made so far pooled into one (:meth:`SpeedRun.pooled`), not each
        run alone: for verdicts against the run's own references, which other jobs' load moves on both
        sides (the best of several runs would be a slow answer's luckiest one); the verdict is then the
        first pooled one that passes, else the one on every run.

        A run whose verdict is inconclusive (``Verdict.unmeasurable``) is measured again like a failing
        one. When no run passed and the verdict that counts (pooled: the last; else any) is
        inconclusive, the timing decides nothing: with ``inconclusive`` given, it is called with the
        verdicts and decides (it raises CheckFailed to fail on other grounds, such as the function's
        structure, or returns to keep the point), and the last run is returned; without it, the check
        fails as if the verdict had failed."""
        self.first()

        def verdict(k: int) -> Verdict:
            return judge(SpeedRun.pooled(self.runs[:k + 1]) if pooled else self.runs[k])

        verdicts = [verdict(k) for k in range(len(self.runs))]
        while not any(v.passed for v in verdicts) and self._room():
            self._take()
            verdicts.append(verdict(len(self.runs) - 1))
        passed = [i for i, v in enumerate(verdicts) if v.passed]
        if passed:
            return self.runs[passed[0] if pooled else max(passed, key=lambda i: verdicts[i].margin)]
        undecided = verdicts[-1].inconclusive if pooled else any(v.inconclusive for v in verdicts)
        if inconclusive is not None and undecided:
            inconclusive(verdicts)
            return self.runs[-1]
        conclusive = [i for i, v in enumerate(verdicts) if not v.inconclusive]
        best = (len(verdicts) - 1 if pooled
                else max(conclusive or range(len(verdicts)), key=lambda i: verdicts[i].margin))
        n = len(verdicts)
        shown = ", ".join(v.shown for v in verdicts if v.shown)
        if pooled:
            added = f" ({shown}, as the runs were added)" if shown else ""
            note = (f" Measured in {n} runs, each on new inputs with the grader's references timed beside it, judged"
                    f" on all of them together{added}." if n > 1 else "")
        else:
            note = (f" The best of {n} runs, each on new inputs with the grader's references timed beside it"
                    f"{f' ({shown})' if shown else ''}: a speed check that fails is measured again, since"
                    " other jobs on the machine can only slow a run down." if n > 1 else "")
        raise CheckFailed(verdicts[best].message + note, tuple(hints))


class ReferenceKernel:
    """A kernel of the grader's own, started on first use, in which the grader's references are timed
    through the same request path as the student's function (``measure_speed(kernel_references=...)``).

    Timing the references in the grader's process compares unlike things on a CPU: the student's side
    runs in a kernel that holds each request's fresh inputs and result buffers and pays the request's
    bookkeeping, and came out ~3x the same jitted chain timed in the grader's process on a quiet box
    (~5x with a busy core beside it). With ``limits`` the kernel runs in a sandbox of its own with the
    student's limits (bubblewrap, as nobody, in memory and pids cgroups: new pages cost the same on both
    sides), falling back to a plain kernel where no sandbox can start. No student code runs in this
    kernel, so nothing can slow its references; ``source`` (Python) defines them. Close it when the
    grade ends (a context manager)."""

    def __init__(self, source: str, *, call_timeout_s: float = 120.0, limits: Any = None) -> None:
        self.source = source
        self.call_timeout_s = call_timeout_s
        self.limits = limits
        self._stack: contextlib.ExitStack | None = None
        self._student: Any = None

    def student(self) -> Any:
        """The kernel's probe (a KernelStudent), started and its references defined on first use."""
        if self._student is None:
            import tempfile
            from pathlib import Path

            import nbformat

            from ..config import Limits
            from ..grade.kernel import Kernel
            from ..grade.probe import KernelStudent
            from ..grade.sandbox import Sandbox, SandboxUnavailable

            limits = Limits(cell_timeout_s=self.call_timeout_s, notebook_timeout_s=self.call_timeout_s,
                            call_timeout_s=self.call_timeout_s)
            stack = contextlib.ExitStack()
            try:
                folder = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="pt2jax-ref-")))
                box = None
                if self.limits is not None:
                    with contextlib.suppress(SandboxUnavailable):
                        box = stack.enter_context(Sandbox(folder, int(self.limits.memory_mb),
                                                          int(self.limits.pids_max), int(self.limits.scratch_mb)))
                nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(self.source)])
                kernel = stack.enter_context(Kernel(nb, folder, limits, box))
                report = kernel.run_notebook()
                if report.issues:
                    raise RuntimeError(f"the grader's reference kernel did not start: {report.issues[0].message}")
                self._student = KernelStudent(kernel, self.call_timeout_s)
            except BaseException:
                stack.close()
                raise
            self._stack = stack
        return self._student

    @property
    def sandboxed(self) -> bool:
        """Whether the kernel, once started, runs in a sandbox."""
        return self._student is not None and self._student.kernel.sandbox is not None

    def close(self) -> None:
        if self._stack is not None:
            self._stack.close()
        self._stack, self._student = None, None

    def __enter__(self) -> ReferenceKernel:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
