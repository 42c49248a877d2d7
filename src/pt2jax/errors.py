"""Exceptions that carry feedback for the student (check failures) or the instructor (grading errors)."""

from __future__ import annotations

__all__ = [
    "CheckFailed",
    "GradingError",
    "StudentCrashed",
    "StudentMissing",
    "StudentRaised",
    "StudentTimeout",
]


class GradingError(RuntimeError):
    """Grading itself could not run (bad configuration, missing autograder, broken check module)."""


class CheckFailed(AssertionError):
    """A hidden check failed; ``feedback`` is shown to the student, ``hints`` name misconceptions."""

    def __init__(self, feedback: str, hints: tuple[str, ...] | list[str] = ()) -> None:
        super().__init__(feedback)
        self.feedback = feedback
        self.hints = tuple(hints)


class StudentMissing(CheckFailed):
    """The notebook does not define the name a check asked for."""

    def __init__(self, name: str) -> None:
        super().__init__(
            f"`{name}` is not defined after running your notebook. Did its cell run without"
            " errors, and is the name spelled as in the exercise?"
        )
        self.name = name


class StudentRaised(CheckFailed):
    """The student's function raised an exception."""

    def __init__(self, call: str, exc_type: str, message: str) -> None:
        shown = message if len(message) <= 600 else message[:600] + "..."
        if exc_type == "NotImplementedError":
            text = f"{call} is not answered yet: it still raises NotImplementedError."
        else:
            text = f"{call} raised {exc_type}: {shown}"
        from .kit.check import hints_for_exception

        super().__init__(text, hints_for_exception(exc_type, message))
        self.call = call
        self.exc_type = exc_type
        self.message = message


class StudentTimeout(CheckFailed):
    """A call into the student's code took longer than its limit."""

    def __init__(self, call: str, seconds: float) -> None:
        super().__init__(f"{call} did not finish within {seconds:g} s (the time limit for one call).")
        self.call = call


class StudentCrashed(CheckFailed):
    """The student's kernel is gone (it exited, was killed, or could not answer)."""

    def __init__(self, call: str, reason: str) -> None:
        super().__init__(f"{call} could not be checked: {reason}")
        self.call = call
