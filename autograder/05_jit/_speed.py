"""Grader-side references and thresholds for 05_jit's speed checks (loaded with load_helper).

Thresholds are ratios to the grader's own functions timed in the same run (checks.speed): strict on a
GPU, calibrated on a CPU from the same run with room for the noise of the probe's round trip.
"""

from __future__ import annotations

from typing import Any

import numpy as np

GPU_MIN_SPEEDUP = 1.5  # the student's jitted chain against the grader's eager chain, on a GPU
GPU_MAX_VS_JIT = 1.2  # the student's jitted function against the grader's jitted reference, on a GPU
# On a CPU the references are timed in a kernel of the grader's own (REFERENCE_SOURCE below), through
# the very request path the student's function is timed by, request by request beside it: like with
# like. Measured on the 2-core dev box with a CPU-heavy job beside it: an honest jitted chain came out
# 1.9-2.7x faster than the kernel's eager chain and 1.4-1.9x its jitted chain (1.1-1.6x after the
# noise allowance); an eager answer 0.60-0.64x and 4.4-4.9x. The CPU lines sit between those.
CPU_MIN_SPEEDUP = 1.2
CPU_MAX_VS_JIT = 3.0
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


def numpy_chain(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    return np.maximum(x * y, 0) + x


def numpy_mlp(x: np.ndarray, w1: np.ndarray, w2: np.ndarray) -> np.ndarray:
    x, w1, w2 = (a.astype(np.float64) for a in (x, w1, w2))
    return (np.maximum(x @ w1, 0) @ w2).astype(np.float32)


def min_speedup() -> float:
    """How much faster than the grader's eager chain the student's jitted chain must be (median of
    per-request ratios, both timed through the same kernel request path)."""
    return GPU_MIN_SPEEDUP if on_gpu() else CPU_MIN_SPEEDUP


def max_ratio_to_jit() -> float:
    """How many times the grader's jitted reference the student's jitted function may take (median of
    per-request ratios, the student's side less 3 baseline deviations)."""
    return GPU_MAX_VS_JIT if on_gpu() else CPU_MAX_VS_JIT


# The grader's references, defined in the reference kernel (checks.speed.ReferenceKernel, opened by
# conftest.py) and timed there by name; no student code runs in that kernel.
REFERENCE_SOURCE = """
import jax
import jax.numpy as jnp
from jax import lax


def eager_chain(x, y):
    return jax.nn.relu(x * y) + x


jit_chain = jax.jit(lambda x, y: jnp.maximum(x * y, 0) + x)
jit_mlp = jax.jit(lambda x, w1, w2: jnp.maximum(x @ w1, 0) @ w2)
jit_lax_conv3x3 = jax.jit(lambda x, w: lax.conv_general_dilated(
    x, w, (1, 1), ((1, 1), (1, 1)), dimension_numbers=("NHWC", "HWIO", "NHWC")))
"""
