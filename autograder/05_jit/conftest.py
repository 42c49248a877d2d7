"""The grader's reference kernels for 05_jit's speed checks: started at the first check that asks for
them, closed when the grade ends. The references (``_speed.REFERENCE_SOURCE``) are timed in them through
the same request path as the student's function, so a ratio compares like with like."""

from pathlib import Path

import pytest

from pt2jax.checks import load_helper
from pt2jax.checks.speed import ReferenceKernel
from pt2jax.config import Limits

speed = load_helper(Path(__file__).with_name("_speed.py"))


def _limits() -> Limits:
    """The course's limits (autograder/<a>/ sits two folders below the course, or the bundle, whose
    pyproject.toml has them)."""
    return Limits.from_pyproject(Path(__file__).resolve().parents[2] / "pyproject.toml")


@pytest.fixture(scope="session")
def reference_kernel():
    """In a sandbox with the course's limits, as the student's kernel is: the grader's jitted references
    (the chain, the mlp, lax's convolution)."""
    with ReferenceKernel(speed.REFERENCE_SOURCE, limits=_limits()) as kernel:
        yield kernel


@pytest.fixture(scope="session")
def eager_reference_kernel(reference_kernel):
    """The grader's eager chain in a kernel of its own on a CPU, so that each kernel times one function
    request after request, as the student's does (timed in the same kernel as the jitted chain, the
    eager chain came out up to ~1.3x slower than the same code in the student's kernel:
    docs/benchmarks.md, 05 as a draft, 2026-12-07); on a GPU the one reference kernel, as before."""
    if speed.on_gpu():
        yield reference_kernel
        return
    with ReferenceKernel(speed.REFERENCE_SOURCE, limits=_limits()) as kernel:
        yield kernel


@pytest.fixture(scope="session")
def chain_reference_kernels(reference_kernel, eager_reference_kernel):
    """The kernels the chain's two references are timed in, by label (measure_speed's reference_kernel)."""
    return {"eager": eager_reference_kernel, "jit": reference_kernel}
