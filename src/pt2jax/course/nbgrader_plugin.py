"""nbgrader integration: a preprocessor that grades through the pt2jax pipeline in a subprocess.

It takes the place of nbgrader's ``Execute`` in ``Autograde.autograde_preprocessors``. The graded
notebook it returns carries verdicts in its grade cells, which nbgrader's ``SaveAutoGrades`` turns
into gradebook scores. A crash or hang of one submission's grading costs that submission, not the batch.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import nbformat
from nbconvert.preprocessors import Preprocessor
from traitlets import Bool, Float, Unicode

from ..config import CourseDir, Limits, tool_env
from ..nbmeta import is_grade_cell

__all__ = ["PipelineGrade"]


class PipelineGrade(Preprocessor):
    """Grade the notebook with ``pt2jax grade`` and return the graded notebook."""

    enabled = Bool(True)  # nbconvert skips preprocessors that are not enabled
    course_root = Unicode("", help="course directory (default: the working directory)").tag(config=True)
    margin_s = Float(120.0, help="extra seconds allowed beyond the notebook limit").tag(config=True)

    def preprocess(self, nb: Any, resources: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
        info = resources.get("nbgrader", {})
        assignment, student = info.get("assignment", ""), info.get("student", "anonymous")
        root = Path(self.course_root or os.getcwd()).resolve()
        limits = Limits.from_pyproject(root / "pyproject.toml")
        report_file = CourseDir(root).report_file(assignment, student)
        report_file.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(prefix="pt2jax-nbg-") as tmp:
            src, out = Path(tmp) / "submitted.ipynb", Path(tmp) / "graded.ipynb"
            nbformat.write(nb, src)
            cmd = [sys.executable, "-m", "pt2jax", "--course", str(root), "grade", str(src),
                   "--assignment", assignment, "--student", student, "--json",
                   "--output-notebook", str(out)]
            try:
                # the grade bounds itself (grade_timeout_s); SIGTERM first, so it cleans up on the way out
                proc = _run_bounded(cmd, root, limits.grade_timeout_s + self.margin_s)
                problem = None if proc.returncode == 0 and out.exists() else (proc.stderr or proc.stdout)[-2000:]
            except subprocess.TimeoutExpired:
                problem = "grading ran past its overall time limit"
            if problem is not None:
                self.log.error("pt2jax could not grade %s/%s: %s", student, assignment, problem)
                report_file.write_text(json.dumps({"error": problem}, indent=1))
                return _all_failed(nb, problem), resources
            report_file.write_text(proc.stdout)
            graded = nbformat.read(out, as_version=4)
        report = json.loads(proc.stdout)
        for flag in report.get("flags", []):
            self.log.warning("flag for %s/%s: %s: %s", student, assignment, flag["kind"], flag["message"])
        return graded, resources


def _run_bounded(cmd: list[str], root: Path, timeout: float) -> subprocess.CompletedProcess[str]:
    """Run ``cmd``; past ``timeout`` send SIGTERM (the grader removes its sandbox, cgroups and
    folders), and SIGKILL only if it is still there 20 s later (the next grader sweeps its leftovers)."""
    with subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=root,
                          env=tool_env()) as proc:
        try:
            out, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.terminate()
            try:
                proc.communicate(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.communicate()
            raise
        return subprocess.CompletedProcess(cmd, proc.returncode, out, err)


def _all_failed(nb: Any, problem: str) -> Any:
    for cell in nb.cells:
        if is_grade_cell(cell):
            cell.outputs = [nbformat.v4.new_output(
                "error", ename="GradingFailed", evalue="this notebook could not be graded",
                traceback=["The grader could not run this notebook; your instructor has been notified.",
                           problem.splitlines()[-1] if problem else ""],
            )]
    return nb
