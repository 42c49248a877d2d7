"""Flags where instructors look: pt2jax's flags become formgrader comments and manual-review marks."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ..nbmeta import exercise_of as _exercise
from .nbconfig import db_url

__all__ = ["REVIEW_FLAGS", "flags_of_report", "post_flags"]

# flags that ask a person to look at the submission (others are informational)
REVIEW_FLAGS = {
    "suspicious_code", "unexpected_type", "passes_visible_only", "fails_visible_only", "kernel_died", "timeout",
    "memory_limit",
    "changed_cell", "changed_metadata", "missing_cell", "duplicate_cell", "unknown_cell", "invalid_notebook",
    "grader_error", "unsandboxed", "skipped", "normalized", "fact_disagreement",
}


def post_flags(root: Path, assignment: str, student: str, flags: list[dict[str, Any]]) -> int:
    """Write ``flags`` into nbgrader's gradebook: an auto comment on the answer cells concerned (or the
    first one) and ``needs_manual_grade`` on their grade cells, unless a grader already gave a manual
    score (an override is never disturbed). Returns how many grade cells were marked for review."""
    from nbgrader.api import Gradebook, MissingEntry

    review = [f for f in flags if f.get("kind") in REVIEW_FLAGS]
    if not review:
        return 0
    marked = 0
    with Gradebook(db_url(root)) as gb:
        for notebook in gb.find_assignment(assignment).notebooks:
            try:
                sub = gb.find_submission_notebook(notebook.name, assignment, student)
            except MissingEntry:
                continue
            # "the first cell" is the notebook's first (nbgrader's row ids follow no fixed order:
            # they differ between two gradebooks of the same assignment)
            rank = _cell_order(root, assignment, notebook.name)
            comments = sorted(sub.comments, key=lambda c: (rank.get(c.name, len(rank)), c.name))
            grades = sorted(sub.grades, key=lambda g: (rank.get(g.name, len(rank)), g.name))
            notes: dict[int, list[str]] = {}
            for flag in review:
                ex = _exercise(flag.get("grade_id"))
                targets = [c for c in comments if ex and _exercise(c.name) == ex] or comments[:1]
                for comment in targets:
                    notes.setdefault(comment.id, []).append(f"[pt2jax {flag['kind']}] {flag['message']}")
                concerned = [g for g in grades if ex and _exercise(g.name) == ex] or grades[:1]
                for grade in concerned:
                    if grade.manual_score is None and not grade.needs_manual_grade:
                        grade.needs_manual_grade = True
                        marked += 1
            for comment in comments:
                if comment.id in notes:
                    text = "\n".join(dict.fromkeys(notes[comment.id]))
                    comment.auto_comment = text if not comment.auto_comment else f"{comment.auto_comment}\n{text}"
            gb.db.commit()
    return marked


def _cell_order(root: Path, assignment: str, notebook: str) -> dict[str, int]:
    """grade_id → position in the released notebook."""
    import nbformat

    from ..nbmeta import grade_id

    path = root / "release" / assignment / f"{notebook}.ipynb"
    if not path.exists():
        return {}
    cells = nbformat.read(path, as_version=4).cells
    return {gid: i for i, c in enumerate(cells) if (gid := grade_id(c))}


def flags_of_report(path: Path) -> list[dict[str, Any]]:
    """The flags of a `pt2jax grade --json` report file (empty when unreadable)."""
    try:
        data = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return []
    if "error" in data:
        return [{"kind": "grader_error", "message": str(data["error"])[:500], "grade_id": None}]
    return list(data.get("flags", []))
