"""Grader-side references and thresholds for 05_jit's speed checks (loaded with load_helper).

Thresholds are ratios to the grader's own functions timed in the same run (checks.speed): strict on a
GPU, calibrated on a CPU from the same run with room for the noise of the probe's round trip.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from pt2jax.checks import fail

GPU_MIN_SPEEDUP = 1.5  # the student's jitted chain against the grader's eager chain, on a GPU
GPU_MAX_VS_JIT = 1.2  # the student's jitted function against the grader's jitted reference, on a GPU
# On a CPU the references are timed in kernels of the grader's own (REFERENCE_SOURCE below; the eager
# and the jitted chain each in its own, conftest.py), through the very request path the student's
# function is timed by, request by request beside it (the three in an order drawn per request). Fixed
# lines did not separate an honest chain from an eager one there (docs/benchmarks.md, 05 as a draft, 2026-12-03: on
# a quiet box honest 1.98-3.51x faster than eager, an eager answer 0.70-1.63x; under load they
# overlap). So the chain's CPU verdicts judge by the run's own references: the student's position
# between the grader's jitted chain (0) and its eager chain (1) in log space, the median over requests
# of log(s/j) over the median of log(e/j) (SpeedRun.position), must be under CPU_MAX_POSITION_ONE_RUN
# on the first run alone, else under CPU_MAX_POSITION on the runs so far pooled (a first run that
# fails is measured again). When the run's gap, the median e/j, is under CPU_MIN_GAP the machine could
# not show the grader's own speedup: the verdict is inconclusive (measured again; if still undecided,
# the point rests on the function's structure and the instructor gets a `speed_inconclusive` flag).
# Calibration (bench/speed_verdicts.py, real sandboxed kernels; figures in docs/benchmarks.md, 05 as a draft,
# 2026-12-07; the 2-core box at load 3-5 from other jobs, then with a busy loop beside, load 4-6.6):
# positions min / median / max over 15 runs each, honest -1.50 / 0.04 / 1.36 and -0.92 / 0.00 / 0.53,
# eager 0.40 / 1.07 / 1.65 and 0.60 / 1.02 / 1.53; the gap 1.76-6.75 and 2.24 up, never under 1.6
# (inconclusive rate 0). Single runs overlap in their tails, so one run alone must be under 0.3 (of 72
# eager runs in all the lowest was 0.40, the next 0.54), and 2-3 runs pooled under 0.5, while 0.7 or
# more fails and the zone between is too close to call (inconclusive: the structure decides). Drawing
# 3 runs per grade from these (3000 draws a session): an honest answer never failed (0.2-0.9 % of
# draws inconclusive), an eager one never passed (0.4-12 % inconclusive, the rest failed).
# Rechecked as committed (two CPU devices in every kernel, CPU_DEVICES): load 4.0-7.2, 10 runs each,
# honest -0.91 / 0.03 / 0.85, eager 0.41 / 1.16 / 1.58; with a busy loop (load 4.7-6.7) the gap fell
# under 1.6 in 4 of 20 runs (inconclusive), honest never failed a drawn grade (4.3 % inconclusive),
# eager never passed.
CPU_MAX_POSITION = 0.5  # passes, judged on two runs or more, pooled
CPU_MAX_POSITION_ONE_RUN = 0.3  # passes, judged on the first run alone (its CHAIN_REQUESTS requests)
CPU_EAGER_POSITION = 0.7  # fails at or above; between a pass line and it, too close to call: inconclusive
CPU_MIN_GAP = 1.6
CPU_MAX_VS_JIT = 3.0  # ex03's mlp against the grader's jitted mlp (one reference: a fixed line)
NOISE_SIGMAS = 3.0
# A CPU speed verdict that fails or is inconclusive is measured again (checks.speed.Remeasured: a whole
# fresh run, the references re-timed beside it; the chain judged on the runs pooled, ex03 and ex10 on
# the best run, since other jobs' load only slows a run there). At most REMEASURES more runs per
# function, and only while one more (as long as the longest so far) fits in REMEASURE_BUDGET_S seconds:
# 90 s lets the chain take its third run at the ~25-38 s a run takes with a busy loop beside it (a
# share of ~1 % of honest grades passed only on the third run pooled in the calibration).
REMEASURES = 2
REMEASURE_BUDGET_S = 90.0
# The timed chain on a CPU: inputs with rows and columns drawn in these ranges (~7 MB an array),
# CHAIN_REQUESTS timed requests of calls_per_request("chain") calls each, after the warm-up call: the
# jitted chain's request ~4 ms of work, the eager chain's ~12 ms, above the round trip's noise, and a
# run ~10 s on a quiet 2-core box (the ~30 MB arrays of 2026-12-03 took 20-30 s). On a GPU as before.
CHAIN_ROWS, CHAIN_COLS = (1200, 1400), (1400, 1600)
CHAIN_REQUESTS = 10
GPU_CHAIN_ROWS, GPU_CHAIN_COLS, GPU_CHAIN_REQUESTS = (2300, 2600), (2800, 3100), 8


def on_gpu() -> bool:
    import jax

    return jax.default_backend() == "gpu"


def expect_seconds(value: Any, what: str) -> None:
    """A time the student's code reports must be a Python float of seconds (hint python_scalar)."""
    if type(value) is not float:
        fail(f"{what} should be a Python float (seconds); it is {type(value).__name__} {value!r:.60}."
             " Convert with float(...).", "python_scalar")


def remeasured(measure: Any) -> Any:
    """``measure`` (one fresh measure_speed run) wrapped to be measured again when a verdict fails: on a
    CPU only (the GPU's thresholds are strict and its runs are not shared with other jobs)."""
    from pt2jax.checks.speed import Remeasured

    return Remeasured(measure, extra=0 if on_gpu() else REMEASURES, budget_s=REMEASURE_BUDGET_S)


def calls_per_request(what: str) -> int:
    """Timed calls per request: enough that a request's work stands well above the probe's round trip
    (~5-10 ms). The chain takes ~2-5 ms on a 2-core CPU and ~0.05 ms on a datacenter GPU."""
    if on_gpu():
        return {"chain": 50, "mlp": 20}[what]
    return {"chain": 4, "mlp": 2}[what]


def numpy_chain(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    return np.maximum(x * y, 0) + x


def numpy_mlp(x: np.ndarray, w1: np.ndarray, w2: np.ndarray) -> np.ndarray:
    x, w1, w2 = (a.astype(np.float64) for a in (x, w1, w2))
    return (np.maximum(x @ w1, 0) @ w2).astype(np.float32)


def chain_shape(rng: np.random.Generator) -> tuple[int, int]:
    """The timed chain's input shape, drawn per grade."""
    rows, cols = (GPU_CHAIN_ROWS, GPU_CHAIN_COLS) if on_gpu() else (CHAIN_ROWS, CHAIN_COLS)
    return int(rng.integers(*rows)), int(rng.integers(*cols))


def chain_requests() -> int:
    """Timed requests per run of the chain."""
    return GPU_CHAIN_REQUESTS if on_gpu() else CHAIN_REQUESTS


def min_speedup() -> float:
    """How much faster than the grader's eager chain the student's jitted chain must be on a GPU (median
    of per-request ratios, both timed through the same kernel request path)."""
    return GPU_MIN_SPEEDUP


def max_ratio_to_jit() -> float:
    """How many times the grader's jitted reference the student's jitted function may take (median of
    per-request ratios, the student's side less 3 baseline deviations)."""
    return GPU_MAX_VS_JIT if on_gpu() else CPU_MAX_VS_JIT


def chain_position(run: Any) -> tuple[float, float]:
    """(position, gap) of a chain run on a CPU: see CPU_MAX_POSITION above and SpeedRun.position."""
    return run.position("jit", "eager")


def cpu_chain_verdict(run: Any, name: str = "relu_mul_add_jit") -> Any:
    """The CPU verdict on one run of a chain (or runs pooled): clearly nearer the grader's jitted chain
    than its eager one (passes), at eager speed (fails), or inconclusive when the run's own gap is too
    small or the position too close to call."""
    from pt2jax.checks.speed import Verdict

    position, gap = chain_position(run)
    eager_s, jit_s = run.reference_s("eager"), run.reference_s("jit")
    times = (f"{name} took a median {run.median_s * 1e3:.2f} ms per call (grader's clock, new inputs each call);"
             f" beside it, on the same inputs, the grader's eager chain {eager_s * 1e3:.2f} ms and its jitted chain"
             f" {jit_s * 1e3:.2f} ms")
    if not gap >= CPU_MIN_GAP:
        return Verdict.unmeasurable(f"{times}: the grader's own jitted chain was only {gap:.2f}x faster than its"
                                    f" eager chain in this run (at least {CPU_MIN_GAP:.1f}x is needed to tell them"
                                    " apart): the machine was too busy to measure.", f"gap {gap:.2f}x")
    line = cpu_max_position(len(run.times_s))
    shown = f"{position:.2f} of the way"
    where = (f"{times}: in log terms {name} sat {position:.2f} of the way from the jitted chain's time (0) to the"
             f" eager one's (1)")
    if line <= position < CPU_EAGER_POSITION:
        return Verdict.unmeasurable(f"{where}, too close to call (under {line} is a pass, {CPU_EAGER_POSITION} or"
                                    " more a fail): the machine's load made the timings too noisy.", shown)
    return Verdict.at_most(max(position, 1e-3), line,
                           f"{where}; under {line} is expected (nearer the jitted chain). Is the whole chain inside"
                           " one jitted function, with nothing converted to NumPy or recompiled on each call?", shown)


def cpu_max_position(requests: int) -> float:
    """The line for a verdict on ``requests`` timed requests: one run's alone must be clearer than runs
    pooled (a single run of an eager answer measured as low as 0.40, an honest one as high as 0.60)."""
    return CPU_MAX_POSITION if requests > CHAIN_REQUESTS else CPU_MAX_POSITION_ONE_RUN


def structure_decides(student: Any, name: str, args: tuple[Any, ...], check: str) -> Any:
    """What a CPU speed check does when the runs could not decide (the pooled verdict inconclusive):
    the point rests on the function's structure (traced at ``args``: one compiled call, no host
    callbacks), never on the timing alone, and the instructor gets a ``speed_inconclusive`` flag. For
    ``Remeasured.expect(..., inconclusive=...)``."""
    from pt2jax.checks.speed import expect_compiled
    from pt2jax.errors import CheckFailed
    from pt2jax.results import CheckNote

    def decide(verdicts: list[Any]) -> None:
        figures = ", ".join(v.shown for v in verdicts if v.shown)
        busy = (f"The grader could not measure {name}'s speed clearly on this machine in {len(verdicts)} run(s)"
                f" ({figures}): {verdicts[-1].message}")
        try:
            expect_compiled(student.trace(name, *args), name)
        except CheckFailed as exc:
            raise CheckFailed(f"{exc.feedback} ({busy} This check was decided on the function's structure"
                              " instead.)", exc.hints) from None
        student.check_notes.append(CheckNote(
            "speed_inconclusive", f"{check}: speed not measured clearly, the machine too busy ({len(verdicts)}"
            f" run(s): {figures}); the point was given on {name}'s structure (one compiled call, no host callbacks)",
            f"{busy} No point was taken for the timing: {name} is one compiled call, which is what counts here."))

    return decide


# The grader's references, defined in the reference kernel (checks.speed.ReferenceKernel, opened by
# conftest.py) and timed there by name; no student code runs in that kernel.
# CPU_DEVICES: as the notebook's locked setup cell sets it (jax.config.update("jax_num_cpu_devices", 2)),
# so the references run on a JAX CPU client like the student's: with one device there, the grader's
# jitted chain ran ~2.7x faster than the same code in a graded notebook's kernel (2026-12-07, seed 2:
# 1.13 ms against 3.09 ms), and an honest solution lost both chain points.
CPU_DEVICES = 2
REFERENCE_SOURCE = f"""
import jax
jax.config.update("jax_num_cpu_devices", {CPU_DEVICES})
import jax.numpy as jnp
from jax import lax


def eager_chain(x, y):
    return jax.nn.relu(x * y) + x


jit_chain = jax.jit(lambda x, y: jnp.maximum(x * y, 0) + x)
jit_mlp = jax.jit(lambda x, w1, w2: jnp.maximum(x @ w1, 0) @ w2)
jit_lax_conv3x3 = jax.jit(lambda x, w: lax.conv_general_dilated(
    x, w, (1, 1), ((1, 1), (1, 1)), dimension_numbers=("NHWC", "HWIO", "NHWC")))
"""
