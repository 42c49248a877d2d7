"""nbgrader integration: a preprocessor that grades through the pt2jax pipeline in a subprocess.

It takes the place of nbgrader's ``Execute`` in ``Autograde.autograde_preprocessors``. The graded
notebook it returns carries verdicts in its grade cells, which nbgrader's ``SaveAutoGrades`` turns
into gradebook scores. A crash or hang of one submission's grading costs that submission, not the batch.

When a worker already graded exactly this notebook (same bytes, student, seed and course files: the
key of :func:`.bundle.submission_key`), its result is taken from the :class:`.spool.Spool` instead
of grading again: that is how `pt2jax autograde` keeps nbgrader's gradebook to one writer while
Dask workers do the grading (:mod:`.batch`).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import nbformat
from nbconvert.preprocessors import Preprocessor
from traitlets import Bool, Float, Unicode

from ..config import CourseDir, Limits
from ..errors import GradingError
from ..nbmeta import is_grade_cell
from .bundle import NOT_GRADED, GradeOutcome, bundle_digest, run_grade, submission_key
from .spool import Spool

__all__ = ["CANNOT_GRADE", "GRADED_HERE", "PipelineGrade"]

GRADED_HERE = "pt2jax: no worker result for this submission: graded here"
CANNOT_GRADE = "pt2jax could not grade"  # the log line's start, then "student/assignment: why"


class PipelineGrade(Preprocessor):
    """Grade the notebook with ``pt2jax grade`` (or take a worker's grade of it) and return the graded notebook."""

    enabled = Bool(True)  # nbconvert skips preprocessors that are not enabled
    course_root = Unicode("", help="course directory (default: the working directory)").tag(config=True)
    margin_s = Float(120.0, help="extra seconds allowed beyond the notebook limit").tag(config=True)

    def preprocess(self, nb: Any, resources: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
        from ..grade.compile_cache import CompileCache, cache_folder
        from ..grade.seeding import base_seed, course_secret

        info = resources.get("nbgrader", {})
        assignment, student = info.get("assignment", ""), info.get("student", "anonymous")
        root = Path(self.course_root or os.getcwd()).resolve()
        limits = Limits.from_pyproject(root / "pyproject.toml")
        report_file = CourseDir(root).report_file(assignment, student)
        report_file.parent.mkdir(parents=True, exist_ok=True)
        text = nbformat.writes(nb)
        seed = base_seed(course_secret(root))
        key = submission_key(bundle_digest(root, assignment), seed, assignment, student, text)
        outcome: GradeOutcome | None = Spool(root, assignment).get(key)
        if outcome is None:
            self.log.info("%s (%s/%s)", GRADED_HERE, student, assignment)
            cache = cache_folder(CourseDir(root), assignment)  # read only if warmed (batch or build)
            outcome = run_grade(root, assignment, student, text, seed, limits.grade_timeout_s + self.margin_s,
                                compile_cache=cache if CompileCache(cache).usable() else None)
        else:
            self.log.info("pt2jax: %s/%s graded by worker %s in %.1f s", student, assignment,
                          outcome.worker, outcome.wall_s)
        if outcome.problem and outcome.problem.startswith(NOT_GRADED):
            # not the submission's fault: no grade is recorded (nbgrader fails this student, the batch
            # leaves them unmarked) and the next run grades them again
            Spool(root, assignment).drop(key)
            self.log.error("%s %s/%s: %s", CANNOT_GRADE, student, assignment, outcome.problem)
            raise GradingError(outcome.problem)
        if outcome.graded is None or outcome.report is None:
            problem = outcome.problem or "no graded notebook came back"
            self.log.error("%s %s/%s: %s", CANNOT_GRADE, student, assignment, problem)
            report_file.write_text(json.dumps({"error": problem}, indent=1))
            return _all_failed(nb, problem), resources
        report_file.write_text(outcome.report)
        graded = nbformat.reads(outcome.graded, as_version=4)
        report = json.loads(outcome.report)
        for flag in report.get("flags", []):
            self.log.warning("flag for %s/%s: %s: %s", student, assignment, flag["kind"], flag["message"])
        return graded, resources


def _all_failed(nb: Any, problem: str) -> Any:
    for cell in nb.cells:
        if is_grade_cell(cell):
            cell.outputs = [nbformat.v4.new_output(
                "error", ename="GradingFailed", evalue="this notebook could not be graded",
                traceback=["The grader could not run this notebook; your instructor has been notified.",
                           problem.splitlines()[-1] if problem else ""],
            )]
    return nb
