"""pt2jax: an auto-graded nbgrader course from PyTorch to JAX / Flax NNX / Optax.

The public API: build a course, grade a notebook, write hidden checks.
"""

from .build import build_assignment
from .checks import as_jax, as_torch, check, expect, expect_array, fail, prng_key
from .config import Course, Limits, find_course_root
from .errors import (
    CheckFailed,
    GradingError,
    StudentCrashed,
    StudentMissing,
    StudentRaised,
    StudentTimeout,
)
from .pipeline import GradeReport, GradeRequest, grade_notebook
from .wire import Opaque, StudentArray

__all__ = [
    "CheckFailed",
    "Course",
    "GradeReport",
    "GradeRequest",
    "GradingError",
    "Limits",
    "Opaque",
    "StudentArray",
    "StudentCrashed",
    "StudentMissing",
    "StudentRaised",
    "StudentTimeout",
    "as_jax",
    "as_torch",
    "build_assignment",
    "check",
    "expect",
    "expect_array",
    "fail",
    "find_course_root",
    "grade_notebook",
    "prng_key",
]
__version__ = "0.1.0"
