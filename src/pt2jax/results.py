"""The data types that cross steps: flags, check verdicts, one notebook's grade, a class's scores.

They live here, not in the step that first makes them, so every step and every report can import
them without importing each other.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

__all__ = ["CellIssue", "CheckNote", "CheckResult", "ClassReport", "ExecutionReport", "Flag", "GradeReport"]


@dataclass(frozen=True)
class Flag:
    """Something the instructor should look at; also shown in the grade report."""

    kind: str
    message: str
    grade_id: str | None = None

    def to_json(self) -> dict[str, Any]:
        """The JSON form used in reports and the gradebook."""
        return {"kind": self.kind, "message": self.message, "grade_id": self.grade_id}


@dataclass(frozen=True)
class CheckNote:
    """What a hidden check tells beyond its verdict: a flag for the instructor (``kind``, ``message``)
    and, for the student, ``feedback`` shown under the check even when it passed (a speed check whose
    timing a busy machine made inconclusive says so). The judge fills in ``grade_id`` (the check's cell)."""

    kind: str
    message: str
    feedback: str = ""
    grade_id: str | None = None


@dataclass
class CheckResult:
    """Verdict of one hidden check."""

    name: str
    grade_id: str
    points: float
    max_points: float
    passed: bool
    feedback: str
    description: str = ""
    hints: list[str] = field(default_factory=list)
    grader_error: str | None = None
    note: str = ""  # shown whatever the verdict: what the check's notes (CheckNote.feedback) tell the student

    def to_json(self) -> dict[str, Any]:
        """The public JSON fields of a check result."""
        return asdict(self)


@dataclass
class CellIssue:
    """Something that went wrong while running one cell, for the report and the flags."""

    index: int
    grade_id: str | None
    kind: str  # "error", "timeout", "kernel_died", "skipped"
    message: str


@dataclass
class ExecutionReport:
    """Result of the execute step."""

    issues: list[CellIssue] = field(default_factory=list)


_PUBLIC = ("name", "grade_id", "points", "max_points", "passed", "feedback", "description", "hints")


@dataclass
class GradeReport:
    """Result of grading one notebook; ``to_json`` is the `pt2jax grade --json` format."""

    assignment: str
    seed: int
    student_id: str
    results: list[CheckResult] = field(default_factory=list)
    cell_scores: dict[str, tuple[float, float]] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    flags: list[Flag] = field(default_factory=list)
    notebook: Any = None  # the graded nbformat notebook
    execution: ExecutionReport | None = None
    timings: dict[str, float] = field(default_factory=dict)  # seconds per phase (and probe count)
    self_checks: dict[str, str] = field(default_factory=dict)  # grade_id -> what the visible self-check printed

    @property
    def score(self) -> float:
        return sum(s for s, _ in self.cell_scores.values())

    @property
    def max_score(self) -> float:
        return sum(m for _, m in self.cell_scores.values())

    def to_json(self) -> dict[str, Any]:
        return {
            "assignment": self.assignment,
            "student": self.student_id,
            "seed": self.seed,
            "score": self.score,
            "max_score": self.max_score,
            "cells": {g: {"score": s, "max_score": m} for g, (s, m) in self.cell_scores.items()},
            "tests": [
                {k: v for k, v in r.to_json().items() if k in _PUBLIC or (k == "grader_error" and v)}
                for r in self.results
            ],
            "errors": self.errors,
            "flags": [f.to_json() for f in self.flags],
            "timings": {k: round(v, 3) for k, v in self.timings.items()},
            "self_checks": self.self_checks,
        }


@dataclass
class ClassReport:
    """Scores per student and grade cell, read from nbgrader's gradebook, plus pt2jax flags."""

    assignment: str
    rows: list[tuple[str, dict[str, tuple[float, float]], list[str]]]
