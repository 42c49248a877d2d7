"""nbgrader's cell metadata and the course's grade-id convention, read in one place.

A cell's ``metadata.nbgrader`` says what it is: an answer (``solution``), an autograded check
(``grade`` without ``solution``), locked, its ``grade_id`` and ``points``. Grade ids follow
``exNN_<what>`` (answer) / ``exNN_<what>_check`` (its graded self-check cell).
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "exercise_of",
    "grade_cells",
    "grade_id",
    "is_answer",
    "is_grade_cell",
    "is_locked",
    "key_metadata",
    "nbgrader_meta",
    "points",
]

_KEY_FIELDS = ("grade", "solution", "locked", "points", "grade_id", "task")


def nbgrader_meta(cell: Any) -> dict[str, Any]:
    """The cell's nbgrader metadata ({} when absent or not a mapping)."""
    meta = cell.get("metadata", {}) if isinstance(cell, dict) else {}
    meta = meta.get("nbgrader", {}) if isinstance(meta, dict) else {}
    return meta if isinstance(meta, dict) else {}


def grade_id(cell: Any) -> str | None:
    """The cell's grade_id, or None."""
    gid = nbgrader_meta(cell).get("grade_id")
    return gid if isinstance(gid, str) else None


def is_answer(cell: Any) -> bool:
    """A cell the student writes (solution, not locked)."""
    meta = nbgrader_meta(cell)
    return bool(meta.get("solution")) and not meta.get("locked")


def is_locked(cell: Any) -> bool:
    """A cell the student may not change."""
    return bool(nbgrader_meta(cell).get("locked"))


def is_grade_cell(cell: Any) -> bool:
    """An autograded code cell (the self-check under an answer): its output is the score nbgrader reads."""
    meta = nbgrader_meta(cell)
    return cell.get("cell_type") == "code" and bool(meta.get("grade")) and not meta.get("solution")


def points(cell: Any) -> float:
    """The cell's points (0 when absent)."""
    return float(nbgrader_meta(cell).get("points", 0) or 0)


def key_metadata(cell: Any) -> dict[str, Any]:
    """The fields that define a cell's role; a student edit to any of them is flagged."""
    meta = nbgrader_meta(cell)
    return {k: meta.get(k) for k in _KEY_FIELDS}


def grade_cells(nb: Any) -> dict[str, float]:
    """Map grade_id -> max points for every autograded code cell of ``nb``."""
    return {gid: points(c) for c in nb.cells if is_grade_cell(c) and (gid := grade_id(c))}


def exercise_of(gid: str | None) -> str | None:
    """The exercise a grade id belongs to (``ex07_step_noise_check`` -> ``ex07``), or None."""
    return gid.split("_")[0] if gid and gid.startswith("ex") else None
