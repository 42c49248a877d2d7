"""Tests of pt2jax.grade.restore: the master's locked and grade cells win over the student's edits."""

from __future__ import annotations

import copy

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output
from nbgrader.utils import is_grade

from pt2jax.grade.restore import restore
from pt2jax.results import Flag


def _meta(gid: str, *, grade=False, solution=False, locked=False, points=None) -> dict:
    nbg = {
        "grade": grade,
        "grade_id": gid,
        "locked": locked,
        "schema_version": 3,
        "solution": solution,
    }
    if points is not None:
        nbg["points"] = points
    return {"nbgrader": nbg, "deletable": not locked, "editable": not locked}


def locked(gid: str, source: str):
    return new_code_cell(source, metadata=_meta(gid, locked=True))


def answer(gid: str, source: str = "def f(x):\n    raise NotImplementedError()"):
    return new_code_cell(source, metadata=_meta(gid, solution=True))


def grade(gid: str, source: str, points: float):
    return new_code_cell(source, metadata=_meta(gid, grade=True, locked=True, points=points))


def master_nb():
    """A two-exercise assignment in the course's layout."""
    return new_notebook(
        cells=[
            new_markdown_cell("# Arrays"),
            locked("setup", "import jax\nfrom pt2jax_check import check_array, check"),
            new_markdown_cell("## Exercise 1"),
            locked("ex01_torch", "import torch\ntorch.tensor([[1, 2], [3, 4]])"),
            answer("ex01_from_data", "def from_data(data):\n    raise NotImplementedError()"),
            grade("ex01_from_data_check", "check_array(from_data([1]), torch.tensor([1]))", 2),
            new_markdown_cell("## Exercise 2"),
            answer("ex02_total", "def total(x):\n    raise NotImplementedError()"),
            grade("ex02_total_check", "check(total(1) == 1, 'total')", 3),
        ],
        metadata={
            "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}
        },
    )


MASTER_GIDS = [
    "setup", "ex01_torch", "ex01_from_data", "ex01_from_data_check", "ex02_total",
    "ex02_total_check",
]
ANSWERS = {
    "ex01_from_data": "def from_data(data):\n    return jnp.array(data)",
    "ex02_total": "def total(x):\n    return jnp.sum(x)",
}


def student_nb():
    """The master, answered and run by the student (outputs, execution counts)."""
    nb = copy.deepcopy(master_nb())
    for n, cell in enumerate(nb.cells):
        gid = _gid(cell)
        if gid in ANSWERS:
            cell.source = ANSWERS[gid]
        if cell.cell_type == "code":
            cell.execution_count = n + 1
            cell.outputs = [new_output("stream", name="stdout", text=f"ran {n}\n")]
    return nb


def _gid(cell):
    return cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")


def _by_gid(nb, gid):
    cells = [c for c in nb.cells if _gid(c) == gid]
    assert len(cells) == 1, f"{len(cells)} cells with grade_id {gid!r}"
    return cells[0]


def _index(nb, gid):
    return next(i for i, c in enumerate(nb.cells) if _gid(c) == gid)


def _gids(nb):
    return [g for c in nb.cells if (g := _gid(c))]


def _flags(result, kind=None):
    return [(f.kind, f.grade_id) for f in result.flags if kind is None or f.kind == kind]


def _valid(nb):
    nbformat.validate(nb)
    ids = [c["id"] for c in nb.cells]
    assert len(ids) == len(set(ids))


def test_untouched_notebook_has_no_flags():
    master = master_nb()
    result = restore(student_nb(), master)
    assert result.flags == []
    assert _gids(result.nb) == MASTER_GIDS
    assert len(result.nb.cells) == len(master.cells)
    assert [c.cell_type for c in result.nb.cells] == [c.cell_type for c in master.cells]
    for gid, source in ANSWERS.items():
        assert _by_gid(result.nb, gid).source == source
    assert result.nb.metadata == master.metadata
    _valid(result.nb)


def test_outputs_are_cleared():
    result = restore(student_nb(), master_nb())
    code = [c for c in result.nb.cells if c.cell_type == "code"]
    assert code
    for cell in code:
        assert cell.outputs == []
        assert cell.execution_count is None


@pytest.mark.parametrize("gid", ["setup", "ex01_torch", "ex01_from_data_check", "ex02_total_check"])
def test_edited_locked_or_grade_cell_is_restored(gid):
    student = student_nb()
    cell = _by_gid(student, gid)
    cell.source = "print('all tests passed')"
    master = master_nb()
    result = restore(student, master)
    assert _by_gid(result.nb, gid).source == _by_gid(master, gid).source
    assert _flags(result) == [("changed_cell", gid)]


def test_grade_cell_points_edited_are_restored():
    student = student_nb()
    _by_gid(student, "ex02_total_check").metadata.nbgrader.points = 100
    result = restore(student, master_nb())
    assert _by_gid(result.nb, "ex02_total_check").metadata.nbgrader.points == 3
    assert _flags(result) == [("changed_cell", "ex02_total_check")]


def test_grade_cell_unlocked_by_student_is_restored():
    student = student_nb()
    cell = _by_gid(student, "ex01_from_data_check")
    cell.metadata.nbgrader.locked = False
    cell.metadata.editable = True
    result = restore(student, master_nb())
    restored = _by_gid(result.nb, "ex01_from_data_check")
    assert restored.metadata == master_nb().cells[5].metadata
    assert _flags(result) == [("changed_cell", "ex01_from_data_check")]


def test_answer_keeps_source_under_master_metadata():
    student = student_nb()
    cell = _by_gid(student, "ex01_from_data")
    cell.metadata.nbgrader.points = 50
    cell.metadata.nbgrader.grade = True
    master = master_nb()
    result = restore(student, master)
    restored = _by_gid(result.nb, "ex01_from_data")
    assert restored.source == ANSWERS["ex01_from_data"]
    assert restored.metadata == _by_gid(master, "ex01_from_data").metadata
    assert "points" not in restored.metadata.nbgrader
    assert _flags(result) == [("changed_metadata", "ex01_from_data")]
    assert sum(is_grade(c) for c in result.nb.cells) == 2


def test_answer_changed_to_markdown_keeps_master_type():
    student = student_nb()
    idx = _index(student, "ex02_total")
    old = student.cells[idx]
    student.cells[idx] = new_markdown_cell(old.source, metadata=old.metadata)
    result = restore(student, master_nb())
    restored = _by_gid(result.nb, "ex02_total")
    assert restored.cell_type == "code"
    assert restored.source == ANSWERS["ex02_total"]
    assert ("changed_cell", "ex02_total") in _flags(result)


def test_deleted_answer_cell_gets_master_stub():
    student = student_nb()
    del student.cells[_index(student, "ex01_from_data")]
    master = master_nb()
    result = restore(student, master)
    assert _gids(result.nb) == MASTER_GIDS
    assert _by_gid(result.nb, "ex01_from_data").source == _by_gid(master, "ex01_from_data").source
    assert _flags(result) == [("missing_cell", "ex01_from_data")]


@pytest.mark.parametrize("gid", ["setup", "ex02_total_check"])
def test_deleted_locked_cell_is_restored(gid):
    student = student_nb()
    del student.cells[_index(student, gid)]
    master = master_nb()
    result = restore(student, master)
    assert _gids(result.nb) == MASTER_GIDS
    assert _by_gid(result.nb, gid).source == _by_gid(master, gid).source
    assert _flags(result) == [("missing_cell", gid)]


def test_duplicated_grade_cell_grades_first_copy_once():
    student = student_nb()
    idx = _index(student, "ex01_from_data_check")
    dup = copy.deepcopy(student.cells[idx])
    dup.source = "print('I pass')"
    student.cells.insert(idx + 1, dup)
    master = master_nb()
    result = restore(student, master)
    assert _flags(result) == [("duplicate_cell", "ex01_from_data_check")]
    assert _gids(result.nb) == MASTER_GIDS
    assert _by_gid(result.nb, "ex01_from_data_check").source == master.cells[5].source
    graded = [_gid(c) for c in result.nb.cells if is_grade(c)]
    assert graded == ["ex01_from_data_check", "ex02_total_check"]
    _valid(result.nb)


def test_student_cells_stay_after_their_anchor():
    student = student_nb()
    student.cells.insert(0, new_code_cell("first = 1"))
    student.cells.insert(_index(student, "ex01_from_data") + 1, new_code_cell("scratch = 2"))
    student.cells.insert(_index(student, "ex01_from_data") + 2, new_markdown_cell("my notes"))
    student.cells.append(new_code_cell("last = 3"))
    result = restore(student, master_nb())
    assert result.flags == []
    sources = [c.source for c in result.nb.cells]
    assert sources[0] == "first = 1"
    i = _index(result.nb, "ex01_from_data")
    assert sources[i + 1 : i + 3] == ["scratch = 2", "my notes"]
    assert _gid(result.nb.cells[i + 3]) == "ex01_from_data_check"
    assert sources[-1] == "last = 3"
    assert _gids(result.nb) == MASTER_GIDS


def test_student_prose_edits_are_kept():
    student = student_nb()
    student.cells[2].source = "## Exercise 1 (my own words)"
    result = restore(student, master_nb())
    assert "## Exercise 1 (my own words)" in [c.source for c in result.nb.cells]
    assert "## Exercise 1" not in [c.source for c in result.nb.cells]


def test_reordered_cells_follow_master_order():
    student = student_nb()
    ex02 = [c for c in student.cells if _gid(c) in ("ex02_total", "ex02_total_check")]
    rest = [c for c in student.cells if c not in ex02]
    student.cells = rest[:2] + ex02 + rest[2:]
    result = restore(student, master_nb())
    assert _gids(result.nb) == MASTER_GIDS
    assert _by_gid(result.nb, "ex02_total").source == ANSWERS["ex02_total"]


def test_unknown_grade_id_code_cell_runs_as_plain_cell():
    student = student_nb()
    idx = _index(student, "ex02_total")
    cell = answer("ex99_bonus", "bonus = 1")
    cell.outputs = [new_output("stream", name="stdout", text="x\n")]
    student.cells.insert(idx + 1, cell)
    result = restore(student, master_nb())
    assert _flags(result) == [("unknown_cell", "ex99_bonus")]
    i = _index(result.nb, "ex02_total")
    kept = result.nb.cells[i + 1]
    assert kept.source == "bonus = 1"
    assert "nbgrader" not in kept.metadata
    assert kept.outputs == []
    assert _gids(result.nb) == MASTER_GIDS


def test_unknown_grade_id_markdown_cell_is_kept():
    student = student_nb()
    cell = new_markdown_cell("My written answer", metadata=_meta("ex99_essay", solution=True))
    student.cells.append(cell)
    result = restore(student, master_nb())
    assert _flags(result) == [("unknown_cell", "ex99_essay")]
    assert "My written answer" in [c.source for c in result.nb.cells]


def test_renamed_answer_cell_is_missing_and_unknown():
    student = student_nb()
    _by_gid(student, "ex02_total").metadata.nbgrader.grade_id = "ex02_totally"
    master = master_nb()
    result = restore(student, master)
    assert sorted(_flags(result)) == [
        ("missing_cell", "ex02_total"),
        ("unknown_cell", "ex02_totally"),
    ]
    assert _by_gid(result.nb, "ex02_total").source == _by_gid(master, "ex02_total").source
    assert ANSWERS["ex02_total"] in [c.source for c in result.nb.cells]


def test_empty_student_notebook_gets_the_master_back():
    master = master_nb()
    result = restore(new_notebook(), master)
    assert _gids(result.nb) == MASTER_GIDS
    assert sorted(_flags(result)) == sorted(("missing_cell", g) for g in MASTER_GIDS)
    for gid in MASTER_GIDS:
        assert _by_gid(result.nb, gid).source == _by_gid(master, gid).source
    _valid(result.nb)


def test_ids_unique_even_when_student_ids_collide():
    student = student_nb()
    for cell in student.cells:
        cell["id"] = "same"
    student.cells.append(new_code_cell("x = 1"))
    student.cells[-1]["id"] = "same"
    result = restore(student, master_nb())
    _valid(result.nb)


def test_inputs_are_not_modified():
    student, master = student_nb(), master_nb()
    _by_gid(student, "setup").source = "edited"
    student.cells.append(new_code_cell("extra", outputs=[new_output("stream", text="x")]))
    before = (copy.deepcopy(student), copy.deepcopy(master))
    restore(student, master)
    assert (student, master) == before


def test_flag_carries_message():
    student = student_nb()
    del student.cells[_index(student, "ex01_from_data")]
    (flag,) = restore(student, master_nb()).flags
    assert isinstance(flag, Flag)
    assert "ex01_from_data" in flag.message
