"""The instructor's steps, one `pt2jax` command each, on a fresh clone (nothing staged, no gradebook,
the virtualenv not on PATH) with a student who fetches, submits and reads feedback through the exchange."""

from __future__ import annotations

import csv
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO, TINY, make_course

from pt2jax.build import build_assignment

# a fresh clone built and taken through every instructor step (nbgrader batches): make test-slow
pytestmark = pytest.mark.slow

BARE_PATH = "/usr/bin:/bin"  # nbgrader runs `alembic` by name: the commands must not need .venv/bin on PATH


def _env(exchange: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PT2JAX_", "JUPYTER_"))}
    return env | {"PATH": BARE_PATH, "PT2JAX_EXCHANGE": str(exchange)} | extra


def _pt2jax(root: Path, exchange: Path, *args: str) -> str:
    proc = subprocess.run([sys.executable, "-m", "pt2jax", "--course", str(root), *args], cwd=root,
                          env=_env(exchange), capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, f"pt2jax {' '.join(args)}:\n{proc.stdout[-2000:]}{proc.stderr[-3000:]}"
    return proc.stdout


def _student(home: Path, exchange: Path, *args: str) -> None:
    """An nbgrader command as the student runs it (their Lab's configuration, their own folder)."""
    env = _env(exchange, JUPYTER_CONFIG_PATH=str(REPO / "lab" / "student"))
    env["PATH"] = f"{Path(sys.executable).parent}:{BARE_PATH}"  # the student's own environment
    proc = subprocess.run([sys.executable, "-m", "nbgrader", *args], cwd=home, env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, f"nbgrader {' '.join(args)}:\n{proc.stdout[-2000:]}{proc.stderr[-2000:]}"


@pytest.fixture(scope="module")
def fresh_clone(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """release/ and solutions/ as committed; no staged source notebook, no gradebook, no exchange."""
    course = make_course(tmp_path_factory.mktemp("clone") / "course")
    build_assignment(course, TINY, verify=False)
    for generated in (course.source / TINY).glob("*"):
        if generated.suffix != ".md":
            generated.unlink()
    assert not (course.root / "gradebook.db").exists()
    return course.root


def test_plain_nbgrader_generate_finds_the_notebook_in_a_fresh_clone(fresh_clone: Path, tmp_path: Path) -> None:
    copy = tmp_path / "course"
    shutil.copytree(fresh_clone, copy)
    env = _env(tmp_path / "exchange", PATH=f"{Path(sys.executable).parent}:{BARE_PATH}")
    proc = subprocess.run([sys.executable, "-m", "nbgrader", "generate_assignment", TINY, "--force"],
                          cwd=copy, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    released = copy / "release" / TINY / f"{TINY}.ipynb"
    assert released.read_bytes() == (fresh_clone / "release" / TINY / f"{TINY}.ipynb").read_bytes()


def test_every_instructor_step_works_first_time(fresh_clone: Path, tmp_path: Path) -> None:
    root, exchange, home = fresh_clone, tmp_path / "exchange", tmp_path / "student"
    home.mkdir()
    assert "released" in _pt2jax(root, exchange, "release", TINY)

    _student(home, exchange, "fetch_assignment", TINY)
    shutil.copy(root / "solutions" / TINY / f"{TINY}.ipynb", home / TINY / f"{TINY}.ipynb")
    _student(home, exchange, "submit", TINY)

    out = _pt2jax(root, exchange, "collect", TINY)
    student = os.environ.get("USER") or __import__("getpass").getuser()
    assert f"1 submission(s) of {TINY}" in out and student in out

    table = _pt2jax(root, exchange, "autograde", TINY)
    assert student in table and "3/3" in table, table

    _pt2jax(root, exchange, "feedback", TINY)
    _student(home, exchange, "fetch_feedback", TINY)
    html = next((home / TINY / "feedback").glob(f"*/{TINY}.html")).read_text()
    assert "Score: 3.0 / 3.0" in html or "Score: 3 / 3" in html

    grades = tmp_path / "grades.csv"
    _pt2jax(root, exchange, "export", "--to", str(grades))
    rows = list(csv.DictReader(grades.read_text().splitlines()))
    assert [(r["student_id"], float(r["score"])) for r in rows if r["assignment"] == TINY] == [(student, 3.0)]


def test_autograde_before_any_generate_does_not_crash(fresh_clone: Path, tmp_path: Path) -> None:
    """Submissions put in place by hand, the gradebook never generated: autograde generates first."""
    copy = tmp_path / "course"
    shutil.copytree(fresh_clone, copy, ignore=shutil.ignore_patterns("gradebook.db", "submitted", "autograded"))
    dest = copy / "submitted" / "zoe" / TINY
    dest.mkdir(parents=True)
    shutil.copy(copy / "release" / TINY / f"{TINY}.ipynb", dest / f"{TINY}.ipynb")
    table = _pt2jax(copy, tmp_path / "exchange", "autograde", TINY)
    assert "zoe" in table and "0/3" in table, table
