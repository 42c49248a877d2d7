"""The grader's reference kernel for 05_jit's speed checks: started at the first check that asks for
it, closed when the grade ends. The references (``_speed.REFERENCE_SOURCE``) are timed in it through the
same request path as the student's function, so a ratio compares like with like."""

from pathlib import Path

import pytest

from pt2jax.checks import load_helper
from pt2jax.checks.speed import ReferenceKernel
from pt2jax.config import Limits

speed = load_helper(Path(__file__).with_name("_speed.py"))


@pytest.fixture(scope="session")
def reference_kernel():
    """In a sandbox with the course's limits, as the student's kernel is (autograder/<a>/ sits two
    folders below the course, or the bundle, whose pyproject.toml has them)."""
    limits = Limits.from_pyproject(Path(__file__).resolve().parents[2] / "pyproject.toml")
    with ReferenceKernel(speed.REFERENCE_SOURCE, limits=limits) as kernel:
        yield kernel
