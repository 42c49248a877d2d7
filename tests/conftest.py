"""Shared fixtures: a tiny fixture course built in a temp dir, and a runner for `pt2jax grade`."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import nbformat
import pytest

from pt2jax.build import build_assignment
from pt2jax.config import CourseDir

REPO = Path(__file__).resolve().parents[1]
FIXTURE_COURSE = Path(__file__).parent / "fixtures" / "course"
TINY = "00_tiny"


def make_course(dest: Path, fixture: Path = FIXTURE_COURSE) -> CourseDir:
    """A course dir with the repo's configuration and the fixture's source/ and autograder/."""
    dest.mkdir(parents=True, exist_ok=True)
    for name in ("nbgrader_config.py", "pyproject.toml"):
        shutil.copy(REPO / name, dest / name)
    shutil.copytree(REPO / "requirements", dest / "requirements")
    for part in ("source", "autograder"):
        shutil.copytree(fixture / part, dest / part, ignore=shutil.ignore_patterns("__pycache__"))
    return CourseDir(dest)


@pytest.fixture(scope="session")
def tiny_course(tmp_path_factory: pytest.TempPathFactory) -> CourseDir:
    """The tiny fixture course, built (not verified: tests verify explicitly)."""
    course = make_course(tmp_path_factory.mktemp("tiny") / "course")
    build_assignment(course, TINY, verify=False)
    return course


def grade(course: CourseDir, notebook: Path, assignment: str, *, seed: int = 0,
          student: str = "student", extra: tuple[str, ...] = ()) -> dict[str, Any]:
    """Run `pt2jax grade --json` in a subprocess (the real entry point) and return its JSON."""
    proc = subprocess.run(
        [sys.executable, "-m", "pt2jax", "--course", str(course.root), "grade", str(notebook),
         "--assignment", assignment, "--json", "--seed", str(seed), "--student", student, *extra],
        capture_output=True, text=True, timeout=900,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout)


def cell_scores(report: dict[str, Any]) -> dict[str, float]:
    return {g: v["score"] for g, v in report["cells"].items()}


def with_answers(nb_path: Path, answers: dict[str, str], dest: Path) -> Path:
    """Copy a notebook, replacing the source of answer cells by grade_id."""
    nb = nbformat.read(nb_path, as_version=4)
    seen = set()
    for cell in nb.cells:
        gid = cell.metadata.get("nbgrader", {}).get("grade_id")
        if gid in answers:
            cell.source = answers[gid]
            seen.add(gid)
    missing = set(answers) - seen
    assert not missing, f"no answer cells {missing} in {nb_path}"
    nbformat.write(nb, dest)
    return dest
