"""End-to-end grading of one notebook (`pt2jax grade`) on the tiny fixture course."""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
from conftest import TINY, cell_scores, grade, with_answers

from pt2jax.config import CourseDir


def _sol(course: CourseDir) -> Path:
    return course.solutions / TINY / f"{TINY}.ipynb"


def _stub(course: CourseDir) -> Path:
    return course.release / TINY / f"{TINY}.ipynb"


def test_solution_full_marks_stub_zero(tiny_course: CourseDir) -> None:
    sol = grade(tiny_course, _sol(tiny_course), TINY)
    assert (sol["score"], sol["max_score"]) == (3.0, 3.0)
    assert all(t["passed"] for t in sol["tests"]) and not sol["errors"]
    stub = grade(tiny_course, _stub(tiny_course), TINY)
    assert (stub["score"], stub["max_score"]) == (0.0, 3.0)
    assert all("not answered yet" in t["feedback"] for t in stub["tests"])


def test_json_has_the_documented_fields(tiny_course: CourseDir) -> None:
    report = grade(tiny_course, _stub(tiny_course), TINY, seed=7)
    assert {"assignment", "seed", "score", "max_score", "tests", "errors", "flags"} <= set(report)
    assert report["seed"] == 7 and report["assignment"] == TINY
    for test in report["tests"]:
        assert {"name", "grade_id", "points", "max_points", "passed", "feedback"} <= set(test)


def test_wrong_dtype_loses_exactly_its_check_with_a_hint(tiny_course: CourseDir, tmp_path: Path) -> None:
    nb = with_answers(_sol(tiny_course), {
        "ex02_int_range": "import torch\ndef int_range(n):\n    return torch.arange(n)\n"
    }, tmp_path / "nb.ipynb")
    report = grade(tiny_course, nb, TINY)
    # the values are right (1 point), the type is not (the other point)
    assert cell_scores(report) == {"ex01_add_one_check": 1.0, "ex02_int_range_check": 1.0}
    dtype_check = next(t for t in report["tests"] if t["name"].endswith("test_int_range_dtype"))
    assert "torch.Tensor" in dtype_check["feedback"] and "torch_not_jax" in dtype_check["hints"]


def test_broken_notebooks_get_messages_not_crashes(tiny_course: CourseDir, tmp_path: Path) -> None:
    syntax = with_answers(_sol(tiny_course), {"ex01_add_one": "def add_one(x)\n    return x + 1\n"},
                          tmp_path / "syntax.ipynb")
    report = grade(tiny_course, syntax, TINY)
    assert cell_scores(report) == {"ex01_add_one_check": 0.0, "ex02_int_range_check": 2.0}
    assert "not defined" in report["tests"][0]["feedback"]

    nb = nbformat.read(_sol(tiny_course), as_version=4)
    nb.cells = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") not in
                ("ex02_int_range", "ex01_add_one_check")]
    nbformat.write(nb, tmp_path / "deleted.ipynb")
    report = grade(tiny_course, tmp_path / "deleted.ipynb", TINY)
    assert cell_scores(report) == {"ex01_add_one_check": 1.0, "ex02_int_range_check": 0.0}
    kinds = {(f["kind"], f["grade_id"]) for f in report["flags"]}
    assert ("missing_cell", "ex02_int_range") in kinds and ("missing_cell", "ex01_add_one_check") in kinds

    (tmp_path / "junk.ipynb").write_text('{"cells": [')
    report = grade(tiny_course, tmp_path / "junk.ipynb", TINY)
    assert report["score"] == 0 and report["max_score"] == 3
    assert "could not be read" in report["errors"][0]
    assert all("could not be read" in t["feedback"] for t in report["tests"])


def test_self_reported_success_counts_for_nothing(tiny_course: CourseDir, tmp_path: Path) -> None:
    """A notebook that swallows its own errors and prints success still scores what it earns."""
    nb = nbformat.read(_stub(tiny_course), as_version=4)
    nb.cells.insert(2, nbformat.v4.new_code_cell(
        "get_ipython().set_custom_exc((BaseException,), lambda *a, **k: print('All tests passed!'))"))
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("grade"):
            meta["points"] = 100  # edited metadata is restored from the master
    nbformat.write(nb, tmp_path / "cheat.ipynb")
    report = grade(tiny_course, tmp_path / "cheat.ipynb", TINY)
    assert (report["score"], report["max_score"]) == (0.0, 3.0)
    assert any(f["kind"] == "changed_cell" for f in report["flags"])


def test_seeds_per_student_and_reproducible(tiny_course: CourseDir, tmp_path: Path) -> None:
    def recording(student: str, name: str) -> list:
        path = tmp_path / name
        grade(tiny_course, _sol(tiny_course), TINY, seed=3, student=student,
              extra=("--record", str(path)))
        return [e["request"] for e in json.loads(path.read_text())]

    alice1, alice2, bob = recording("alice", "a1.json"), recording("alice", "a2.json"), recording("bob", "b.json")
    assert alice1 == alice2  # a regrade draws the same inputs
    assert alice1 != bob  # another student gets other inputs


def test_grading_errors_exit_nonzero_with_a_message(tiny_course: CourseDir) -> None:
    import subprocess
    import sys

    proc = subprocess.run([sys.executable, "-m", "pt2jax", "--course", str(tiny_course.root), "grade",
                           str(_sol(tiny_course)), "--assignment", "99_nope", "--json"],
                          capture_output=True, text=True)
    assert proc.returncode == 2 and "unknown assignment '99_nope'" in proc.stderr


def test_a_timing_the_graders_clock_contradicts_is_flagged(tiny_course: CourseDir, tmp_path: Path) -> None:
    checks = tmp_path / "autograder"
    checks.mkdir()
    (checks / "test_timing.py").write_text(
        "from pt2jax.checks import expect, graded\n\n\n"
        '@graded("ex01_add_one_check", points=1)\n'
        "def test_add_one_is_quick(student, rng):\n"
        '    timing = student.time("add_one", 1.0, repeat=2)\n'
        '    expect(timing.per_call_s < 5, "add_one should take well under 5 s")\n'
    )
    nb = with_answers(_sol(tiny_course), {"ex01_add_one": (
        "import time\n_real = time.perf_counter\ntime.perf_counter = lambda: _real() * 1000\n\n"
        "def add_one(x):\n    time.sleep(0.01)\n    return x + 1\n"
    )}, tmp_path / "nb.ipynb")
    report = grade(tiny_course, nb, TINY, extra=("--autograder", str(checks)))
    assert [t["passed"] for t in report["tests"]] == [True]  # the verdict uses the grader's clock
    flags = [f for f in report["flags"] if f["kind"] == "fact_disagreement"]
    assert len(flags) == 1 and "timing of `add_one(...)`" in flags[0]["message"]


def test_visible_and_hidden_disagreements_are_flagged_both_ways() -> None:
    """passes_visible_only (self-check clean, hidden checks failed) and its reverse, fails_visible_only
    (self-check raised, every hidden check passed: the hidden checks miss what the self-check caught)."""
    from pt2jax.course.gradebook import REVIEW_FLAGS
    from pt2jax.grade.pipeline import GradeRequest, _flag_visible_only, _State
    from pt2jax.results import CellIssue, CheckResult, ExecutionReport, GradeReport

    def grade_cell(gid: str) -> nbformat.NotebookNode:
        cell = nbformat.v4.new_code_cell("check(True, 'x')")
        cell.metadata["nbgrader"] = {"grade": True, "grade_id": gid, "points": 1, "locked": True, "solution": False}
        return cell

    def answer_cell(gid: str) -> nbformat.NotebookNode:
        cell = nbformat.v4.new_code_cell("def f(x):\n    return x")
        cell.metadata["nbgrader"] = {"grade": False, "grade_id": gid, "locked": False, "solution": True}
        return cell

    # ex04's check grades the notebook's pieces together (like 04's short run): it has no answer of its own
    cells = [answer_cell("ex01_a"), grade_cell("ex01_a_check"), answer_cell("ex02_b"), grade_cell("ex02_b_check"),
             answer_cell("ex03_c"), grade_cell("ex03_c_check"), grade_cell("ex04_run_check")]
    nb = nbformat.v4.new_notebook(cells=cells)
    report = GradeReport("a", 0, "s", execution=ExecutionReport(issues=[
        CellIssue(3, "ex02_b_check", "error", "AssertionError"), CellIssue(5, "ex03_c_check", "error", "boom")]))
    report.results = [CheckResult("t1", "ex01_a_check", 0, 1, False, "no"),
                      CheckResult("t2", "ex02_b_check", 1, 1, True, ""),
                      CheckResult("t3", "ex03_c_check", 0, 1, False, "no"),
                      CheckResult("t4", "ex04_run_check", 0, 1, False, "no")]
    state = _State(GradeRequest(Path("x.ipynb"), "a", None, 0), report, nb, nb=nb)  # type: ignore[arg-type]
    _flag_visible_only(state)
    assert [(f.kind, f.grade_id) for f in report.flags] == [
        ("passes_visible_only", "ex01_a_check"), ("fails_visible_only", "ex02_b_check")]
    assert "fails_visible_only" in REVIEW_FLAGS
