"""The instructor's steps on an nbgrader course, one function (and one `pt2jax` command) each, each
working on a fresh clone: nothing needs to have been staged, generated or put on PATH before.

release → (students fetch, work, submit) → collect → autograde (:mod:`.batch`) → feedback → export.
Each runs nbgrader through :func:`pt2jax.nbgrader_cmd.run_nbgrader` (the virtualenv's tools on PATH:
nbgrader calls ``alembic`` by name) in the course directory, against the course's exchange.
"""

from __future__ import annotations

import os
from pathlib import Path

from ..config import CourseDir
from ..errors import GradingError
from ..nbgrader_cmd import run_nbgrader

__all__ = ["EXPORTERS", "collect", "ensure_generated", "exchange_root", "export", "feedback", "release"]


def exchange_root(root: Path) -> Path:
    """The exchange both roles use: $PT2JAX_EXCHANGE, else ``exchange/`` in the course (as nbgrader_config.py)."""
    return Path(os.environ.get("PT2JAX_EXCHANGE") or root / "exchange")


def _known_assignments(root: Path) -> set[str]:
    from nbgrader.api import Gradebook

    from .nbconfig import db_url

    url = db_url(root)
    if url.startswith("sqlite:///") and not Path(url.removeprefix("sqlite:///")).exists():
        return set()  # no gradebook yet (opening it would create an empty one)
    with Gradebook(url) as gb:
        return {a.name for a in gb.assignments}


def _generate(root: Path, assignment: str) -> None:
    """Stage the source notebook from its ``.md`` and run nbgrader's generate_assignment, which records
    the assignment's cells and points in the gradebook (the release it writes is byte-identical to the
    committed one)."""
    course = CourseDir(root)
    if assignment not in course.assignments():
        raise GradingError(f"unknown assignment {assignment!r}: no source/{assignment}/{assignment}.md")
    from ..build.generate import stage_source

    stage_source(course, assignment)
    run_nbgrader(root, "generate_assignment", assignment, "--force")


def ensure_generated(root: Path, assignment: str) -> None:
    """Make sure nbgrader's gradebook knows ``assignment``: nbgrader records it only in
    ``generate_assignment``, and autograding an assignment it does not know fails."""
    if assignment not in _known_assignments(root):
        _generate(root, assignment)


def release(root: Path, assignment: str) -> Path:
    """Generate ``assignment`` into the gradebook and put the student version in the exchange."""
    _generate(root, assignment)
    exchange = exchange_root(root)
    exchange.mkdir(parents=True, exist_ok=True)
    exchange.chmod(0o777)  # nbgrader's exchange must be world-writable for students to submit
    run_nbgrader(root, "release_assignment", assignment, "--force")
    return exchange


def collect(root: Path, assignment: str) -> list[str]:
    """Copy every submission of ``assignment`` from the exchange into ``submitted/``; return the students."""
    run_nbgrader(root, "collect", assignment, "--update")
    return sorted(p.parent.name for p in (root / "submitted").glob(f"*/{assignment}") if p.is_dir())


def feedback(root: Path, assignment: str) -> Path:
    """Generate the HTML feedback of every graded student and release it to the exchange."""
    ensure_generated(root, assignment)
    run_nbgrader(root, "generate_feedback", assignment, "--force")
    run_nbgrader(root, "release_feedback", assignment)
    return root / "feedback"


# `pt2jax export --format`: nbgrader's own CSV, or one of pt2jax's nbgrader exporter plugins
EXPORTERS = {
    "nbgrader": "nbgrader.plugins.export.CsvExportPlugin",
    "canvas": "pt2jax.course.export.CanvasExportPlugin",
    "exercises": "pt2jax.course.export.ExerciseCsvExportPlugin",
}


def export(root: Path, to: Path, fmt: str = "nbgrader") -> Path:
    """Every grade of the gradebook as CSV through nbgrader's exporter mechanism (``fmt``: a key of
    :data:`EXPORTERS`; the same as ``nbgrader export --exporter <class>``)."""
    if fmt not in EXPORTERS:
        raise GradingError(f"unknown export format {fmt!r}: one of {', '.join(EXPORTERS)}")
    to.parent.mkdir(parents=True, exist_ok=True)
    run_nbgrader(root, "export", "--exporter", EXPORTERS[fmt], "--to", str(to.resolve()))
    return to
