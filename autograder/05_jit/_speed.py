"""Grader-side references and thresholds for 05_jit's speed checks (loaded with load_helper).

Thresholds are ratios to the grader's own functions timed in the same run (checks.speed): strict on a
GPU, calibrated on a CPU from the same run with room for the noise of the probe's round trip.
"""

from __future__ import annotations

from typing import Any

import numpy as np

GPU_MIN_SPEEDUP = 1.5  # the student's jitted chain against the grader's eager chain, on a GPU
GPU_MAX_VS_JIT = 1.2  # the student's jitted function against the grader's jitted reference, on a GPU
# On a shared 2-core CPU the student's kernel and the grader's process see different memory behaviour
# (the kernel holds a request's fresh inputs and results) and other jobs' load: measured on the dev box,
# an honest jitted chain came out at 0.8-3.4x the grader's eager speed and 0.7-3.8x the grader's jitted
# time per request, an eager one at 0.2-0.5x and ~9x. The CPU thresholds sit between those.
CPU_MIN_SPEEDUP = 0.7
CPU_MAX_VS_JIT = 4.0
NOISE_SIGMAS = 3.0
# A CPU speed verdict that fails is measured again (checks.speed.Remeasured: a whole fresh run, the
# references re-timed beside it, the best run kept): other jobs' load only slows a run down. At most
# REMEASURES more runs per function, and only while they fit in REMEASURE_BUDGET_S seconds.
REMEASURES = 2
REMEASURE_BUDGET_S = 60.0


def on_gpu() -> bool:
    import jax

    return jax.default_backend() == "gpu"


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
    return {"chain": 2, "mlp": 2}[what]  # more calls alive per request cost the kernel page faults


def eager_chain(x: Any, y: Any) -> Any:
    import jax

    return jax.nn.relu(x * y) + x


def numpy_chain(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    return np.maximum(x * y, 0) + x


def numpy_mlp(x: np.ndarray, w1: np.ndarray, w2: np.ndarray) -> np.ndarray:
    x, w1, w2 = (a.astype(np.float64) for a in (x, w1, w2))
    return (np.maximum(x @ w1, 0) @ w2).astype(np.float32)


def jitted(fn: Any) -> Any:
    import jax

    return jax.jit(fn)


def min_speedup(eager_s: float, jit_s: float) -> float:
    """How much faster than the grader's eager chain the student's jitted chain must be (median of
    per-request ratios): 1.5x on a GPU; on a CPU the loose floor above, or 1.5x where the grader's own
    jit beat its eager chain by far more than on the dev box (a quiet, memory-bound machine)."""
    if on_gpu():
        return GPU_MIN_SPEEDUP
    return max(CPU_MIN_SPEEDUP, min(GPU_MIN_SPEEDUP, 0.2 * eager_s / max(jit_s, 1e-9)))


def max_ratio_to_jit(eager_s: float | None = None, jit_s: float | None = None) -> float:
    """How many times the grader's jitted reference the student's jitted function may take (the median
    of per-request ratios, the student's side less 3 baseline deviations). On a CPU, where the kernel
    runs everything ~2x slower than the grader's process, the line sits between an honest jitted
    function (~2x) and an eager one (~2x the grader's eager/jit ratio): 1.1x that ratio, 2.5x to 5x."""
    if on_gpu():
        return GPU_MAX_VS_JIT
    if eager_s is None or jit_s is None:
        return CPU_MAX_VS_JIT
    return min(CPU_MAX_VS_JIT, max(2.5, 0.8 * eager_s / max(jit_s, 1e-9)))


def numpy_like_chain() -> Any:
    """The chain in jax.numpy, for the grader's jitted reference."""
    import jax.numpy as jnp

    return lambda x, y: jnp.maximum(x * y, 0) + x


def jnp_mlp() -> Any:
    import jax.numpy as jnp

    return lambda x, w1, w2: jnp.maximum(x @ w1, 0) @ w2


def lax_conv3x3() -> Any:
    from jax import lax

    return lambda x, w: lax.conv_general_dilated(x, w, (1, 1), ((1, 1), (1, 1)),
                                                 dimension_numbers=("NHWC", "HWIO", "NHWC"))
