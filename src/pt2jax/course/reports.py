"""What an instructor reads about a class: scores from nbgrader's gradebook (the source of truth)
joined with pt2jax's per-submission reports and flags (``reports/<assignment>/<student>.*``)."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path

import nbformat

from ..config import CourseDir
from ..nbmeta import grade_id
from ..results import ClassReport
from .gradebook import flags_of_report
from .nbconfig import db_url

__all__ = ["all_flags", "class_report"]


def all_flags(root: Path, assignment: str, student: str) -> list[dict[str, object]]:
    """Flags of the graded run and of the submission as sent, without repeats."""
    course = CourseDir(root)
    flags = flags_of_report(course.report_file(assignment, student))
    with contextlib.suppress(OSError, json.JSONDecodeError):
        flags += json.loads(course.report_file(assignment, student, ".submitted.json").read_text())
    for suffix, kind in ((".unreadable", "invalid_notebook"), (".normalized", "normalized")):
        note = course.report_file(assignment, student, suffix)
        if note.exists():
            flags.append({"kind": kind, "message": note.read_text().strip(), "grade_id": None})
    unique = {(f["kind"], f["message"]): f for f in flags}
    return list(unique.values())


def class_report(root: Path, assignment: str) -> ClassReport:
    """Read the gradebook (nbgrader's, the source of truth for scores) and the pt2jax reports."""
    from nbgrader.api import Gradebook, MissingEntry

    rows = []
    with Gradebook(db_url(root)) as gb:
        students = sorted(s.id for s in gb.students)
        nb_names = [n.name for n in gb.find_assignment(assignment).notebooks]
        for student in students:
            scores: dict[str, tuple[float, float]] = {}
            try:
                for name in nb_names:
                    sub = gb.find_submission_notebook(name, assignment, student)
                    for grade in sorted(sub.grades, key=lambda g: g.cell.id):
                        scores[grade.name] = (float(grade.score), float(grade.max_score))
            except MissingEntry:
                continue
            rows.append((student, _in_notebook_order(root, assignment, scores),
                         _flags(root, assignment, student)))
    return ClassReport(assignment, rows)


def _in_notebook_order(
    root: Path, assignment: str, scores: dict[str, tuple[float, float]]
) -> dict[str, tuple[float, float]]:
    order: list[str] = []
    for path in sorted((root / "release" / assignment).glob("*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        order += [grade_id(c) or "" for c in nb.cells]
    rank = {g: i for i, g in enumerate(order)}
    return dict(sorted(scores.items(), key=lambda kv: rank.get(kv[0], len(rank))))


def _flags(root: Path, assignment: str, student: str) -> list[str]:
    if not CourseDir(root).report_file(assignment, student).exists():
        return ["not graded"]
    return sorted({str(f["kind"]) for f in all_flags(root, assignment, student)})
