"""Record step: verdicts become the grade cells' outputs, in the form nbgrader's gradebook reads.

nbgrader scores a code grade cell 0 on an error output, partial credit on a numeric
``execute_result``, full marks otherwise. The student's kernel never writes these outputs: they
are replaced wholesale by what the judge decided.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import nbformat

from ..kit.check import hint_text
from ..nbmeta import grade_id, is_grade_cell, points
from ..results import CheckResult

__all__ = ["cell_feedback", "record"]


def _fmt(x: float) -> str:
    return f"{x:g}"


def cell_feedback(results: list[CheckResult], max_points: float) -> str:
    """The text a student reads under a grade cell: one line per check, details for failures."""
    got = sum(r.points for r in results)
    lines = [f"Hidden checks: {_fmt(got)} / {_fmt(max_points)} points"]
    hints: list[str] = []
    for r in results:
        mark = "✔" if r.passed else "✘"
        lines.append(f"{mark} {r.description} ({_fmt(r.points)}/{_fmt(r.max_points)})")
        if not r.passed:
            lines += ["    " + line for line in r.feedback.splitlines()]
            hints += r.hints
        lines += ["    " + line for line in r.note.splitlines()]  # e.g. a timing a busy machine left open
    for hint in dict.fromkeys(hints):
        lines.append(hint_text(hint))
    return "\n".join(lines) + "\n"


def record(nb: nbformat.NotebookNode, results: list[CheckResult]) -> dict[str, tuple[float, float]]:
    """Write verdicts into ``nb``'s grade cells; return grade_id -> (score, max_points)."""
    by_cell: dict[str, list[CheckResult]] = defaultdict(list)
    for r in results:
        by_cell[r.grade_id].append(r)
    scores = {}
    for cell in nb.cells:
        gid = grade_id(cell)
        if not is_grade_cell(cell) or gid is None:
            continue
        max_points = points(cell)
        cell_results = by_cell.get(gid, [])
        # one rounding, used both for the output nbgrader reads and for the returned score
        score = round(min(sum(r.points for r in cell_results), max_points), 6)
        if cell_results and all(r.passed for r in cell_results):
            score = max_points
        if not cell_results:
            text = "No hidden checks ran for this cell; your instructor will grade it.\n"
            score = 0.0
        else:
            text = cell_feedback(cell_results, max_points)
        outputs: list[Any] = [nbformat.v4.new_output("stream", name="stdout", text=text)]
        if score <= 0:
            outputs.append(nbformat.v4.new_output(
                "error", ename="HiddenChecksFailed", evalue=f"0 / {_fmt(max_points)} points",
                traceback=[f"HiddenChecksFailed: 0 / {_fmt(max_points)} points (details above)"],
            ))
        elif score < max_points:
            outputs.append(nbformat.v4.new_output(
                "execute_result", data={"text/plain": repr(score)}, execution_count=cell.get("execution_count"),
            ))
        cell.outputs = outputs
        scores[gid] = (score, max_points)
    return scores
