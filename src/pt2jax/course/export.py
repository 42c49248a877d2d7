"""Grades out of nbgrader's gradebook through nbgrader's own exporter mechanism, so
``nbgrader export --exporter pt2jax.course.export.CanvasExportPlugin --to canvas.csv`` works as
well as ``pt2jax export --format canvas``.

* :class:`CanvasExportPlugin`: a CSV Canvas' gradebook import reads (Student, ID, SIS User ID,
  SIS Login ID, Section, one column per assignment, a "Points Possible" row); students are matched on
  their nbgrader id as SIS Login ID. A missing submission is an empty cell (Canvas leaves it
  ungraded), not a zero.
* :class:`ExerciseCsvExportPlugin`: one row per submission, one column per graded cell, the total.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

from nbgrader.api import Gradebook, MissingEntry
from nbgrader.plugins import ExportPlugin

__all__ = ["CanvasExportPlugin", "ExerciseCsvExportPlugin"]


def _wanted(names: list[str], chosen: list[Any]) -> list[str]:
    chosen_s = {str(c) for c in chosen}
    return [n for n in names if not chosen_s or n in chosen_s]


class CanvasExportPlugin(ExportPlugin):
    """Canvas gradebook CSV (import it under Grades → Import)."""

    def export(self, gradebook: Gradebook) -> None:
        dest = Path(self.to or "canvas.csv")
        assignments = _wanted(sorted(a.name for a in gradebook.assignments), self.assignment)
        students = _wanted(sorted(s.id for s in gradebook.students), self.student)
        self.log.info("Exporting grades for Canvas to %s", dest)
        with dest.open("w", newline="") as fh:
            out = csv.writer(fh)
            out.writerow(["Student", "ID", "SIS User ID", "SIS Login ID", "Section", *assignments])
            maxima = [gradebook.find_assignment(a).max_score for a in assignments]
            out.writerow(["Points Possible", "", "", "", "", *(f"{m:g}" for m in maxima)])
            for sid in students:
                student = gradebook.find_student(sid)
                name = ", ".join(p for p in (student.last_name, student.first_name) if p) or sid
                row: list[str] = []
                for a in assignments:
                    try:
                        row.append(f"{gradebook.find_submission(a, sid).score:g}")
                    except MissingEntry:
                        row.append("")
                out.writerow([name, "", sid, sid, "", *row])


class ExerciseCsvExportPlugin(ExportPlugin):
    """Per-exercise scores: assignment, student, each graded cell's score, total, max."""

    def export(self, gradebook: Gradebook) -> None:
        dest = Path(self.to or "exercises.csv")
        self.log.info("Exporting per-exercise grades to %s", dest)
        with dest.open("w", newline="") as fh:
            out = csv.writer(fh)
            for a in _wanted(sorted(x.name for x in gradebook.assignments), self.assignment):
                assignment = gradebook.find_assignment(a)
                cells = [(nb.name, c.name) for nb in assignment.notebooks for c in nb.grade_cells]
                out.writerow(["assignment", "student_id", *(c for _, c in cells), "score", "max_score"])
                for sid in _wanted(sorted(s.id for s in gradebook.students), self.student):
                    try:
                        sub = gradebook.find_submission(a, sid)
                    except MissingEntry:
                        continue
                    scores = [f"{gradebook.find_grade(c, nb, a, sid).score:g}" for nb, c in cells]
                    out.writerow([a, sid, *scores, f"{sub.score:g}", f"{assignment.max_score:g}"])
