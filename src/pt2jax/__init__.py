"""pt2jax: an auto-graded nbgrader course from PyTorch to JAX / Flax NNX / Optax.

The public API: build a course, grade a notebook, write hidden checks. Each name is imported from
its module on first use, so `pt2jax grade` does not pay for `pt2jax build`'s imports.
"""

from importlib import import_module
from typing import Any

# The one list of public names: name -> the module that defines it.
_EXPORTS = {
    "BuildResult": "build",
    "build_assignment": "build",
    "CheckFailed": "errors",
    "GradingError": "errors",
    "StudentCrashed": "errors",
    "StudentMissing": "errors",
    "StudentRaised": "errors",
    "StudentTimeout": "errors",
    "CourseDir": "config",
    "Limits": "config",
    "find_course_root": "config",
    "CheckResult": "results",
    "ClassReport": "results",
    "Flag": "results",
    "GradeReport": "results",
    "GradeRequest": "grade.pipeline",
    "grade_notebook": "grade.pipeline",
    "autograde": "course.batch",
    "class_report": "course.reports",
    "Opaque": "checks",
    "StudentArray": "checks",
    "as_jax": "checks",
    "as_torch": "checks",
    "expect": "checks",
    "expect_array": "checks",
    "fail": "checks",
    "graded": "checks",
    "prng_key": "checks",
}

__all__ = sorted(_EXPORTS)
__version__ = "0.1.0"


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(import_module(f".{_EXPORTS[name]}", __name__), name)
    raise AttributeError(f"module 'pt2jax' has no attribute {name!r}")


def __dir__() -> list[str]:
    return [*__all__, "__version__"]
