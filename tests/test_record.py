"""Tests of pt2jax.grade.record: verdicts become outputs that nbgrader's gradebook scores as intended."""

from __future__ import annotations

import copy

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output
from nbgrader.utils import determine_grade

from pt2jax.grade.record import cell_feedback, record
from pt2jax.kit.check import hint_text
from pt2jax.nbmeta import grade_cells
from pt2jax.results import CheckResult


def _grade_cell(gid: str, points: float):
    meta = {"nbgrader": {"grade": True, "solution": False, "locked": True, "points": points,
                         "grade_id": gid, "schema_version": 3}}
    return new_code_cell(f"check(True, '{gid}')", metadata=meta)


def _answer_cell(gid: str):
    meta = {"nbgrader": {"grade": False, "solution": True, "locked": False, "grade_id": gid,
                         "schema_version": 3}}
    return new_code_cell("def f(x):\n    return x", metadata=meta)


def _manual_cell(gid: str, points: float):
    meta = {"nbgrader": {"grade": True, "solution": True, "locked": False, "points": points,
                         "grade_id": gid, "schema_version": 3}}
    return new_markdown_cell("My explanation.", metadata=meta)


def notebook():
    """An assignment notebook with two autograded cells after a student's run."""
    nb = new_notebook(cells=[
        new_markdown_cell("# Title"),
        _answer_cell("ex01"),
        _grade_cell("ex01_check", 3),
        _answer_cell("ex02"),
        _grade_cell("ex02_check", 2),
        _manual_cell("ex03_essay", 4),
    ])
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.execution_count = 1
            cell.outputs = [
                new_output("stream", name="stderr", text="student noise\n"),
                new_output("execute_result", data={"text/plain": "3"}, execution_count=1),
            ]
    return nb


def result(gid, points, max_points, *, passed=None, desc="a check", feedback="", hints=()):
    passed = points == max_points if passed is None else passed
    return CheckResult(
        name=f"test_x::{desc.replace(' ', '_')}", grade_id=gid, points=points,
        max_points=max_points, passed=passed, feedback=feedback, description=desc,
        hints=list(hints),
    )


def _cell(nb, gid):
    return next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == gid)


def _gradebook(nb, gid):
    return determine_grade(_cell(nb, gid))


def test_grade_cells_lists_autograded_cells_only():
    assert grade_cells(notebook()) == {"ex01_check": 3.0, "ex02_check": 2.0}


def test_full_marks_only_stdout():
    nb = notebook()
    scores = record(nb, [result("ex01_check", 1.5, 1.5, desc="one"),
                         result("ex01_check", 1.5, 1.5, desc="two")])
    outputs = _cell(nb, "ex01_check").outputs
    assert [(o.output_type, o.get("name")) for o in outputs] == [("stream", "stdout")]
    assert scores["ex01_check"] == (3.0, 3.0)
    assert _gradebook(nb, "ex01_check") == (3.0, 3.0)


def test_partial_gives_execute_result_with_score():
    nb = notebook()
    scores = record(nb, [result("ex01_check", 1.5, 1.5, desc="one"),
                         result("ex01_check", 0.0, 1.5, desc="two", feedback="wrong dtype")])
    outputs = _cell(nb, "ex01_check").outputs
    assert [o.output_type for o in outputs] == ["stream", "execute_result"]
    assert outputs[0].name == "stdout"
    assert outputs[1].data["text/plain"] == "1.5"
    assert scores["ex01_check"] == (1.5, 3.0)
    assert _gradebook(nb, "ex01_check") == (1.5, 3.0)


def test_zero_gives_error_output():
    nb = notebook()
    scores = record(nb, [result("ex02_check", 0.0, 2.0, feedback="no")])
    outputs = _cell(nb, "ex02_check").outputs
    assert [o.output_type for o in outputs] == ["stream", "error"]
    assert outputs[0].name == "stdout"
    assert outputs[1].ename == "HiddenChecksFailed"
    assert scores["ex02_check"] == (0.0, 2.0)
    assert _gradebook(nb, "ex02_check") == (0, 2.0)


def test_cell_without_results_scores_zero():
    nb = notebook()
    scores = record(nb, [result("ex01_check", 3.0, 3.0)])
    assert scores["ex02_check"] == (0.0, 2.0)
    assert "No hidden checks ran" in _cell(nb, "ex02_check").outputs[0].text
    assert _gradebook(nb, "ex02_check") == (0, 2.0)


@pytest.mark.parametrize(
    ("passed_points", "max_points"),
    [([1], 4), ([0.5], 2), ([0.25, 0.5], 1), ([2.5], 5), ([1, 1, 1], 10), ([0.75, 0.125], 1),
     ([7], 8), ([0.001], 1)],
)
def test_gradebook_reads_intended_partial_score(passed_points, max_points):
    """Whatever the split, nbgrader reads back exactly the sum of the passed checks' points."""
    rest = max_points - sum(passed_points)
    results = [result("ex01_check", p, p, desc=f"pass {i}") for i, p in enumerate(passed_points)]
    results.append(result("ex01_check", 0.0, rest, desc="fail"))
    nb = notebook()
    _cell(nb, "ex01_check").metadata.nbgrader.points = max_points
    scores = record(nb, results)
    intended = sum(passed_points)
    assert scores["ex01_check"] == (intended, max_points)
    assert _gradebook(nb, "ex01_check") == (intended, max_points)


@pytest.mark.parametrize("passed_points", [[1 / 3, 1 / 3], [0.1, 0.2]], ids=["thirds", "tenths"])
def test_gradebook_reads_the_returned_score_exactly(passed_points):
    nb = notebook()
    _cell(nb, "ex01_check").metadata.nbgrader.points = 1
    results = [result("ex01_check", p, p, desc=f"pass {i}") for i, p in enumerate(passed_points)]
    results.append(result("ex01_check", 0.0, 1 - sum(passed_points), desc="fail"))
    scores = record(nb, results)
    assert _gradebook(nb, "ex01_check") == (scores["ex01_check"][0], 1.0)


def test_all_checks_passing_is_full_marks_despite_float_sums():
    nb = notebook()
    _cell(nb, "ex01_check").metadata.nbgrader.points = 1
    scores = record(nb, [result("ex01_check", 0.1, 0.1, desc=f"c{i}") for i in range(10)])
    assert scores["ex01_check"] == (1.0, 1.0)
    assert [o.output_type for o in _cell(nb, "ex01_check").outputs] == ["stream"]


def test_all_checks_passing_reads_full_marks_in_gradebook():
    nb = notebook()
    _cell(nb, "ex01_check").metadata.nbgrader.points = 1
    record(nb, [result("ex01_check", 0.1, 0.1, desc=f"c{i}") for i in range(10)])
    assert _gradebook(nb, "ex01_check") == (1.0, 1.0)


def test_score_is_capped_at_cell_points():
    nb = notebook()
    scores = record(nb, [result("ex02_check", 2.0, 2.0), result("ex02_check", 2.0, 2.0)])
    assert scores["ex02_check"] == (2.0, 2.0)
    assert _gradebook(nb, "ex02_check") == (2.0, 2.0)


def test_whole_notebook_gradebook_matches_scores():
    nb = notebook()
    scores = record(nb, [result("ex01_check", 1.0, 1.0, desc="a"),
                         result("ex01_check", 0.0, 2.0, desc="b"),
                         result("ex02_check", 2.0, 2.0, desc="c"),
                         result("ex_gone_check", 5.0, 5.0, desc="d")])
    assert set(scores) == {"ex01_check", "ex02_check"}
    for gid, (score, max_points) in scores.items():
        assert determine_grade(_cell(nb, gid)) == (score, max_points)
    nbformat.validate(nb)


def test_other_cells_are_untouched():
    nb = notebook()
    before = copy.deepcopy(nb)
    record(nb, [result("ex01_check", 3.0, 3.0)])
    for old, new in zip(before.cells, nb.cells, strict=True):
        if old.metadata.get("nbgrader", {}).get("grade_id") not in ("ex01_check", "ex02_check"):
            assert new == old
    assert determine_grade(_cell(nb, "ex03_essay")) == (None, 4.0)


def test_student_outputs_never_survive():
    """Whatever the student's run printed (stderr, a number) is replaced."""
    nb = notebook()
    record(nb, [result("ex01_check", 3.0, 3.0)])
    for gid in ("ex01_check", "ex02_check"):
        for out in _cell(nb, gid).outputs:
            assert "student noise" not in out.get("text", "")
            assert out.get("name") != "stderr"


def test_feedback_text_content():
    results = [
        result("ex01_check", 1.0, 1.0, desc="from_data keeps the values"),
        result("ex01_check", 0.0, 1.0, desc="from_data uses int32",
               feedback="dtype differs: expected int32, got int64.\nsecond line",
               hints=["int64_default", "numpy_not_jax"]),
        result("ex01_check", 0.0, 1.0, desc="from_data returns a jax.Array",
               feedback="not a jax.Array", hints=["int64_default"]),
    ]
    text = cell_feedback(results, 3.0)
    lines = text.splitlines()
    assert lines[0] == "Hidden checks: 1 / 3 points"
    assert "✔ from_data keeps the values (1/1)" in lines
    assert "✘ from_data uses int32 (0/1)" in lines
    assert "    dtype differs: expected int32, got int64." in lines
    assert "    second line" in lines
    assert "    not a jax.Array" in lines
    assert text.count(hint_text("int64_default")) == 1
    assert text.count(hint_text("numpy_not_jax")) == 1
    assert text.endswith("\n")


def test_passing_checks_show_no_feedback_or_hints():
    text = cell_feedback(
        [result("g", 2.0, 2.0, desc="fine", feedback="ignored", hints=["keepdim"])], 2.0
    )
    assert "ignored" not in text
    assert hint_text("keepdim") not in text
    assert "✔ fine (2/2)" in text


def test_recorded_stdout_is_the_feedback():
    results = [result("ex02_check", 0.5, 0.5, desc="half"),
               result("ex02_check", 0.0, 1.5, desc="rest", feedback="bad", hints=["keepdim"])]
    nb = notebook()
    record(nb, results)
    stream = _cell(nb, "ex02_check").outputs[0]
    assert stream.text == cell_feedback(results, 2.0)
    assert "rest" in stream.text and "bad" in stream.text
    assert hint_text("keepdim") in stream.text


def test_a_note_a_check_leaves_is_its_cells_and_shown_even_when_it_passed(tmp_path) -> None:
    # checks.speed's inconclusive verdicts leave such notes (05_jit: `speed_inconclusive`): the judge
    # gives each the cell of the check that left it, and a passed check shows the note's feedback
    from pt2jax.grade.judge import JudgeRun
    from pt2jax.grade.probe import StudentBase
    from pt2jax.results import CheckNote

    (tmp_path / "test_noted.py").write_text(
        "from pt2jax.checks import graded\n"
        "from pt2jax.results import CheckNote\n\n"
        "@graded('ex01_check', points=1)\n"
        "def test_noted(student):\n"
        "    student.check_notes.append(CheckNote('speed_inconclusive', 'not measured', 'too busy: kept'))\n\n"
        "@graded('ex02_check', points=1)\n"
        "def test_plain(student):\n"
        "    pass\n")
    judging = JudgeRun(tmp_path, seed=0, student_id="s", assignment="a")
    results = {r.name.split("::")[1]: r for r in judging.results(StudentBase())}
    assert results["test_noted"].passed and results["test_noted"].note == "too busy: kept"
    assert results["test_plain"].note == "" and not results["test_noted"].feedback
    want = CheckNote("speed_inconclusive", "not measured", "too busy: kept", "ex01_check")
    assert judging.student.check_notes == [want]
    text = cell_feedback([results["test_noted"]], 1)
    assert "✔" in text and "    too busy: kept" in text
