"""Autograde a class through nbgrader, one submission after another, resumable: a submission counts
as graded only once its completion marker is written, after the gradebook holds its scores and flags."""

from __future__ import annotations

import subprocess
from datetime import UTC, datetime
from pathlib import Path

from ..config import CourseDir
from ..nbgrader_cmd import run_nbgrader
from .gradebook import post_flags
from .reports import all_flags
from .submissions import normalize_submission, scan_submitted, set_aside_unreadable

__all__ = ["DONE_MARK", "autograde", "submitted_students"]

DONE_MARK = ".pt2jax-done"


def submitted_students(root: Path, assignment: str) -> list[str]:
    sub = root / "submitted"
    return sorted(p.parent.name for p in sub.glob(f"*/{assignment}") if p.is_dir())


def autograde(root: Path, assignment: str, *, force: bool = False, progress: bool = True) -> list[str]:
    """Autograde every submission of ``assignment``, one student at a time.

    A student whose grading finished (marker file written after nbgrader returned) is skipped, so a
    killed batch resumes where it stopped; a half-written autograded folder is regraded with --force.
    Returns the students graded in this run.
    """
    from tqdm import tqdm

    graded = []
    students = submitted_students(root, assignment)
    for student in tqdm(students, desc=f"autograde {assignment}", unit="student", disable=not progress):
        done = root / "autograded" / student / assignment / DONE_MARK
        if done.exists() and not force:
            continue
        set_aside_unreadable(root, assignment, student)
        scan_submitted(root, assignment, student)
        log = CourseDir(root).report_file(assignment, student, ".nbgrader.log")
        log.parent.mkdir(parents=True, exist_ok=True)
        log.write_text("")
        proc = _nbgrader_autograde(root, assignment, student, log)
        if proc.returncode != 0 and normalize_submission(root, assignment, student):
            proc = _nbgrader_autograde(root, assignment, student, log)
        if proc.returncode == 0 and done.parent.is_dir():
            post_flags(root, assignment, student, all_flags(root, assignment, student))
            # the marker is written last: only now does this submission count as graded
            done.write_text(datetime.now(UTC).isoformat() + "\n")
            graded.append(student)
        else:
            tqdm.write(f"  {student}: nbgrader could not autograde this submission (see {log})")
    return graded


def _nbgrader_autograde(root: Path, assignment: str, student: str, log: Path) -> subprocess.CompletedProcess[str]:
    proc = run_nbgrader(root, "autograde", assignment, "--student", student, "--force", check=False)
    with log.open("a") as fh:
        fh.write(proc.stdout + proc.stderr)
    return proc
