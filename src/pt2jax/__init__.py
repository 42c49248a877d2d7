"""pt2jax: an auto-graded nbgrader course from PyTorch to JAX / Flax NNX / Optax.

The public API: build a course, grade a notebook, write hidden checks.
"""

from importlib import import_module
from typing import Any

# name -> module: imported on first use, so `pt2jax grade` does not pay for `pt2jax build`'s imports
_EXPORTS = {
    "build_assignment": "build",
    "as_jax": "checks", "as_torch": "checks", "check": "checks", "expect": "checks",
    "expect_array": "checks", "fail": "checks", "prng_key": "checks",
    "Course": "config", "Limits": "config", "find_course_root": "config",
    "CheckFailed": "errors", "GradingError": "errors", "StudentCrashed": "errors",
    "StudentMissing": "errors", "StudentRaised": "errors", "StudentTimeout": "errors",
    "GradeReport": "pipeline", "GradeRequest": "pipeline", "grade_notebook": "pipeline",
    "Opaque": "wire", "StudentArray": "wire",
}


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(import_module(f".{_EXPORTS[name]}", __name__), name)
    raise AttributeError(f"module 'pt2jax' has no attribute {name!r}")


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
