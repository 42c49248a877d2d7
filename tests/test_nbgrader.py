"""The real nbgrader workflow on the tiny course: autograde into the gradebook, feedback, export, resume."""

from __future__ import annotations

import shutil
from pathlib import Path

import nbformat
import pytest
from conftest import TINY, make_course, with_answers

from pt2jax.build import build_assignment
from pt2jax.course.batch import DONE_MARK, WRITE_EVERY, autograde
from pt2jax.course.reports import class_report
from pt2jax.nbgrader_cmd import run_nbgrader as nbgrader


@pytest.fixture(scope="module")
def graded_course(tmp_path_factory: pytest.TempPathFactory) -> Path:
    course = make_course(tmp_path_factory.mktemp("nbg") / "course")
    build_assignment(course, TINY, verify=False)
    root = course.root
    nbgrader(root, "generate_assignment", TINY, "--force")
    subs = {
        "alice": course.solutions / TINY / f"{TINY}.ipynb",
        "bob": course.release / TINY / f"{TINY}.ipynb",
    }
    for student, src in subs.items():
        dest = root / "submitted" / student / TINY
        dest.mkdir(parents=True)
        shutil.copy(src, dest / f"{TINY}.ipynb")
    erin = root / "submitted" / "erin" / TINY
    erin.mkdir(parents=True)
    # a near miss, written in a cell that also holds nbgrader's marker strings
    markers = "### BEGIN HIDDEN TESTS\n### BEGIN SOLUTION\n### END HIDDEN TESTS\n"
    with_answers(subs["alice"], {"ex01_add_one": markers + "def add_one(x):\n    return x + 1.0001\n"},
                 erin / f"{TINY}.ipynb")
    carol = root / "submitted" / "carol" / TINY
    carol.mkdir(parents=True)
    (carol / f"{TINY}.ipynb").write_text('{"cells": [ not json')
    assert sorted(autograde(root, TINY, progress=False)) == ["alice", "bob", "carol", "erin"]
    return root


def test_gradebook_scores(graded_course: Path) -> None:
    rows = {s: (scores, flags) for s, scores, flags in class_report(graded_course, TINY).rows}
    assert rows["alice"][0] == {"ex01_add_one_check": (1.0, 1.0), "ex02_int_range_check": (2.0, 2.0)}
    assert rows["bob"][0] == {"ex01_add_one_check": (0.0, 1.0), "ex02_int_range_check": (0.0, 2.0)}
    assert rows["erin"][0] == {"ex01_add_one_check": (0.0, 1.0), "ex02_int_range_check": (2.0, 2.0)}
    assert sum(s for s, _ in rows["carol"][0].values()) == 0
    assert "invalid_notebook" in rows["carol"][1]
    kept = graded_course / "submitted" / "carol" / TINY / f"{TINY}.ipynb.unreadable"
    assert kept.read_text() == '{"cells": [ not json'  # nothing the student sent is lost


def test_feedback_teaches_and_hides_the_checks(graded_course: Path) -> None:
    nbgrader(graded_course, "generate_feedback", TINY, "--force")
    html = (graded_course / "feedback" / "erin" / TINY / f"{TINY}.html").read_text()
    assert "Hidden checks: 0 / 1 points" in html
    # the table of contents names each graded cell by its exercise (not nbgrader's "Test cell" for all)
    assert ">Exercise 1: add_one</a>" in html and ">Exercise 2: a range</a>" in html
    assert ">Test cell</a>" not in html
    assert "expected" in html and "max abs error" in html and "first at index" in html
    hidden = (graded_course / "autograder" / TINY / "test_tiny.py").read_text()
    assert "student.call" in hidden and "student.call" not in html
    carol = (graded_course / "feedback" / "carol" / TINY / f"{TINY}.html").read_text()
    assert "could not be read as a notebook" in carol


def test_export_csv(graded_course: Path, tmp_path: Path) -> None:
    out = tmp_path / "grades.csv"
    nbgrader(graded_course, "export", "--to", str(out))
    lines = out.read_text().splitlines()
    alice = next(line for line in lines if ",alice," in line)
    assert ",3.0," in alice


def test_a_killed_batch_resumes_without_regrading(graded_course: Path) -> None:
    assert autograde(graded_course, TINY, progress=False) == []
    (graded_course / "autograded" / "bob" / TINY / DONE_MARK).unlink()  # as if killed mid-way
    assert autograde(graded_course, TINY, progress=False) == ["bob"]
    graded = nbformat.read(graded_course / "autograded" / "bob" / TINY / f"{TINY}.ipynb", as_version=4)
    assert any(o.get("ename") == "HiddenChecksFailed" for c in graded.cells for o in c.get("outputs", []))


def test_flags_reach_the_formgrader(graded_course: Path) -> None:
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{graded_course / 'gradebook.db'}") as gb:
        carol = gb.find_submission_notebook(TINY, TINY, "carol")
        comments = " ".join(c.auto_comment or "" for c in carol.comments)
        assert "[pt2jax invalid_notebook]" in comments
        assert any(g.needs_manual_grade for g in carol.grades)
        alice = gb.find_submission_notebook(TINY, TINY, "alice")
        assert not any(g.needs_manual_grade for g in alice.grades)
        assert not any(c.auto_comment and "pt2jax" in c.auto_comment for c in alice.comments)


def test_a_manual_override_survives_a_regrade(graded_course: Path) -> None:
    from nbgrader.api import Gradebook

    url = f"sqlite:///{graded_course / 'gradebook.db'}"
    with Gradebook(url) as gb:
        grade = gb.find_grade("ex02_int_range_check", TINY, TINY, "alice")
        grade.manual_score = 0.5
        gb.db.commit()
    (graded_course / "autograded" / "alice" / TINY / DONE_MARK).unlink()
    assert autograde(graded_course, TINY, progress=False) == ["alice"]
    with Gradebook(url) as gb:
        grade = gb.find_grade("ex02_int_range_check", TINY, TINY, "alice")
        assert (grade.manual_score, grade.auto_score, grade.score) == (0.5, 2.0, 0.5)


@pytest.mark.slow  # a batch killed and run again: make test-slow
def test_sigkill_mid_batch_resumes_without_regrading(tmp_path: Path) -> None:
    import os
    import signal
    import subprocess
    import sys
    import time

    from pt2jax.course.reports import class_report

    course = make_course(tmp_path / "course")
    build_assignment(course, TINY, verify=False)
    root = course.root
    nbgrader(root, "generate_assignment", TINY, "--force")
    # more students than the writer takes in one nbgrader run (WRITE_EVERY): killed when the first
    # batch is being written, some are marked, the rest are in the spool or still grading
    students = [f"s{i}" for i in range(WRITE_EVERY + 1)]
    for student in students:
        dest = root / "submitted" / student / TINY
        dest.mkdir(parents=True)
        shutil.copy(course.solutions / TINY / f"{TINY}.ipynb", dest / f"{TINY}.ipynb")
    cmd = [sys.executable, "-m", "pt2jax", "--course", str(root), "autograde", TINY, "--workers", "2"]
    proc = subprocess.Popen(cmd, cwd=root, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def marked() -> dict[str, str]:
        marks = {s: root / "autograded" / s / TINY / DONE_MARK for s in students}
        return {s: m.read_text() for s, m in marks.items() if m.exists()}

    deadline = time.monotonic() + 600
    while not marked() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert marked()
    os.killpg(proc.pid, signal.SIGKILL)  # the whole batch, nbgrader and kernels included
    proc.wait()
    done = marked()
    pending = [s for s in students if s not in done]
    assert done and pending  # killed mid-batch
    assert autograde(root, TINY, progress=False) == pending  # only the unfinished ones
    assert {s: t for s, t in marked().items() if s in done} == done  # the finished were not graded again
    rows = {s: scores for s, scores, _ in class_report(root, TINY).rows}
    assert {s: sum(v[0] for v in rows[s].values()) for s in students} == {s: 3.0 for s in students}
