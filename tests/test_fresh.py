"""What a fresh-process call runs first (grade/probe.fresh_cells): the notebook's code, with its slow
cells cut down to what the called function needs, and the whole notebook again when that was not enough."""

from __future__ import annotations

import nbformat
import pytest

from pt2jax.grade.probe import FRESH_CHEAP_S, fresh_cells

SLOW, FAST = FRESH_CHEAP_S + 1.0, 0.1


def _nb(*cells: tuple[str, str]) -> nbformat.NotebookNode:
    """Cells as (kind, source): kind 'free', 'answer', 'locked' or 'grade'."""
    nb = nbformat.v4.new_notebook()
    for i, (kind, source) in enumerate(cells):
        cell = nbformat.v4.new_code_cell(source)
        if kind != "free":
            cell.metadata["nbgrader"] = {"grade_id": f"c{i}", "solution": kind == "answer",
                                         "grade": kind == "grade", "locked": kind in ("locked", "grade"),
                                         "points": 1 if kind == "grade" else 0, "schema_version": 3}
        nb.cells.append(cell)
    return nb


def _run(cells: list[str]) -> dict:
    namespace: dict = {}
    for source in cells:
        exec(source, namespace)  # what the fresh process does, without IPython's error handling
    return namespace


NOTEBOOK = _nb(
    ("locked", "import numpy as np\nSCALE = 3.0"),
    ("answer", "def make_model(n):\n    return np.arange(n) * SCALE\n\ndef load(path):\n    return np.load(path)"),
    ("free", "import time\nmodel = make_model(4)\nfor step in range(3):\n    model = model + 1\n"
             "time.sleep(0.0)\nlog = []\nlog.append(model.sum())\nTARGET = 'w.npy'\nnp.save(TARGET, model)"),
    ("grade", "def graded_load():\n    return load(TARGET)\nassert graded_load().shape == (4,)"),
)


def test_without_timings_every_cell_runs_whole_and_grade_cells_only_define():
    cells = fresh_cells(NOTEBOOK)
    assert cells[:3] == [c.source for c in NOTEBOOK.cells[:3]]
    assert "def graded_load" in cells[3] and "assert" not in cells[3]
    assert "def graded_load" in cells[-1]  # locked definitions again at the end


def test_a_fast_cell_runs_whole():
    cells = fresh_cells(NOTEBOOK, "graded_load", {i: FAST for i in range(4)})
    assert cells[2] == NOTEBOOK.cells[2].source


def test_a_slow_cell_keeps_only_what_the_call_needs():
    cells = fresh_cells(NOTEBOOK, "graded_load", {0: FAST, 1: FAST, 2: SLOW, 3: FAST})
    slow = cells[2]
    assert "TARGET = 'w.npy'" in slow  # the call reads TARGET
    assert "np.save" not in slow and "make_model" not in slow and "log.append" not in slow
    assert "import time" in slow and "time.sleep(0.0)" in slow  # imports, and statements reading only modules


def test_what_the_needed_names_depend_on_is_kept_in_order(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    nb = _nb(
        ("locked", "import numpy as np"),
        ("free", "n = 4\nweights = np.ones(n)\nfor _ in range(2):\n    weights = weights * 2\n"
                 "cache = {}\ncache['w'] = weights\nother = weights * 0\nnoise = other.sum()"),
        ("grade", "def graded():\n    return cache['w'].sum()"),
    )
    cells = fresh_cells(nb, "graded", {1: SLOW})
    assert "other" not in cells[1] and "noise" not in cells[1]
    assert _run(cells)["graded"]() == 16.0


def test_a_call_that_changes_an_argument_or_a_global_is_kept():
    nb = _nb(
        ("free", "REGISTRY = []\n\ndef register(f):\n    REGISTRY.append(f)\n\ndef fill(d):\n    d['k'] = 2"),
        ("free", "table = {}\nfill(table)\nregister(len)\nunrelated = sorted(table)\nprint(table)"),
        ("grade", "def graded():\n    return REGISTRY[0](table) + table['k']"),
    )
    cells = fresh_cells(nb, "graded", {0: FAST, 1: SLOW})
    assert "fill(table)" in cells[1] and "register(len)" in cells[1]
    assert "unrelated" not in cells[1] and "print" not in cells[1]  # builtins leave their arguments alone
    assert _run(cells)["graded"]() == 3


def test_magics_and_unparsable_cells_do_not_break_the_slice():
    nb = _nb(
        ("free", "%%time\nX = 1\ny = X + 1"),
        ("free", "def broken(:\n    pass"),
        ("grade", "def graded():\n    return X"),
    )
    cells = fresh_cells(nb, "graded", {0: SLOW, 1: SLOW})
    assert "X = 1" in cells[0] and "y = X + 1" not in cells[0]
    assert cells[1] == ""


@pytest.mark.parametrize("kind", ["answer", "locked", "free"])
def test_only_grade_cells_lose_their_computations_when_fast(kind):
    nb = _nb((kind, "import numpy as np\nv = np.ones(3)\nprint(v)"), ("grade", "def graded():\n    return v"))
    assert fresh_cells(nb, "graded", {0: FAST})[0] == nb.cells[0].source


@pytest.mark.slow  # one real grade of 01_arrays
def test_an_answer_the_slice_misses_is_graded_after_the_whole_notebook(tmp_path):
    """two_draws reads a helper bound through globals().update in a slow cell: invisible to the slice,
    so the fresh process raises NameError there; the grader reruns the whole notebook and the honest
    answer keeps its points."""
    from conftest import REPO, cell_scores, grade, with_answers

    from pt2jax.config import CourseDir

    course = CourseDir(REPO)
    answer = (
        "import time\n\ntime.sleep(FRESH_CHEAP_S)  # a slow experiment left in the answer cell\n"
        "helpers = {'_split': jax.random.split}\nextra = dict(helpers)\nglobals().update(extra)\n\n\n"
        "def two_draws(key, n):\n    key_a, key_b = _split(key)\n"
        "    return jax.random.normal(key_a, (n,)), jax.random.normal(key_b, (n,))\n"
    ).replace("FRESH_CHEAP_S", str(FRESH_CHEAP_S + 0.5))
    nb = with_answers(course.solutions / "01_arrays" / "01_arrays.ipynb", {"ex06_two_draws": answer},
                      tmp_path / "01_arrays.ipynb")
    report = grade(course, nb, "01_arrays", seed=4)
    assert report["score"] == report["max_score"], [t["feedback"] for t in report["tests"] if not t["passed"]]
    assert cell_scores(report)["ex06_two_draws_check"] == 3
    assert report["timings"]["fresh_reruns"] == 1
