"""Hostile submissions, graded in one real nbgrader batch beside honest ones on the tiny course.

Each hostile notebook must earn nothing for what it cheats, leave a flag for the instructor, and
neither stop the batch nor change anyone else's grade. Short limits keep the batch quick.
"""

from __future__ import annotations

import copy
import json
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
import pytest
from conftest import TINY, make_course

from pt2jax.build import build_assignment
from pt2jax.course.batch import autograde
from pt2jax.course.reports import class_report
from pt2jax.nbgrader_cmd import run_nbgrader as nbgrader

SHORT_LIMITS = """
[tool.pt2jax]
cell_timeout_s = 8
notebook_timeout_s = 40
call_timeout_s = 5
memory_mb = 1536
pids_max = 128
interrupt_grace_s = 4
"""


@dataclass
class Hostile:
    """A submission: extra cells (after the setup cell) on top of the stub or the solution."""

    cells: list[str] = field(default_factory=list)
    base: str = "stub"  # or "solution"
    at_end: bool = False  # the cells go last (after the answer cells they redefine)
    edit: Callable[[nbformat.NotebookNode], None] | None = None
    score: float = 0.0
    flags: set[str] = field(default_factory=set)


def _grade_cells(nb: nbformat.NotebookNode) -> list[nbformat.NotebookNode]:
    return [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade")]


def _edit_metadata(nb: nbformat.NotebookNode) -> None:
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("grade"):
            meta["points"] = 100
            meta["locked"] = False
            cell.source = "pass  # checks removed"
        if meta.get("grade_id") == "setup":
            meta.pop("checksum", None)


def _delete_grade_cells(nb: nbformat.NotebookNode) -> None:
    nb.cells = [c for c in nb.cells if not c.metadata.get("nbgrader", {}).get("grade")]


def _duplicate_grade_cells(nb: nbformat.NotebookNode) -> None:
    nb.cells += [copy.deepcopy(c) for c in _grade_cells(nb)]


def _hard_code(nb: nbformat.NotebookNode) -> None:
    answers = {"ex01_add_one": "def add_one(x):\n    return jnp.array([1.0, 2.0, 3.0])\n",
               "ex02_int_range": "def int_range(n):\n    return jnp.array([0, 1, 2, 3])\n"}
    for cell in nb.cells:
        gid = cell.metadata.get("nbgrader", {}).get("grade_id")
        if gid in answers:
            cell.source = answers[gid]


ALWAYS_EQUAL = """
class Anything:
    shape = (3,)
    dtype = "float32"
    def __eq__(self, other): return True
    def __array__(self, *a, **k):
        import numpy as np
        return np.ones(3, np.float32)
def add_one(x):
    return Anything()
"""
ALLCLOSE_FOOLER = """
import numpy as np
class Sneaky(np.ndarray):
    def __array_ufunc__(self, *args, **kwargs):
        return True
def add_one(x):
    return np.zeros(3, np.float32).view(Sneaky)
"""

HOSTILE: dict[str, Hostile] = {
    "patch_perf_counter": Hostile(["import time\ntime.perf_counter = lambda: 0.0"], flags={"suspicious_code"}),
    "patch_timeit": Hostile(["import timeit\ntimeit.default_timer = lambda: 0.0"], flags={"suspicious_code"}),
    "always_equal": Hostile([ALWAYS_EQUAL], at_end=True, flags={"unexpected_type"}),
    "allclose_fooler": Hostile([ALLCLOSE_FOOLER], at_end=True, flags={"unexpected_type"}),
    "patch_numpy": Hostile(["import numpy as np\nnp.allclose = lambda *a, **k: True\nnp.array_equal = np.allclose"],
                           flags={"suspicious_code"}),
    "patch_jax": Hostile(["import jax.numpy as jnp\njnp.allclose = lambda *a, **k: True"], flags={"suspicious_code"}),
    "patch_pytest": Hostile(["import pytest\npytest.main = lambda *a, **k: 0"], flags={"suspicious_code"}),
    "patch_pt2jax": Hostile(["import pt2jax_check\npt2jax_check.check_array = lambda *a, **k: None\n"
                             "try:\n    import pt2jax\nexcept ImportError:\n    pass"], flags={"suspicious_code"}),
    "os_exit": Hostile(["import os\nos._exit(0)"], base="solution", flags={"kernel_died", "suspicious_code"}),
    "sys_exit": Hostile(["import sys\nsys.exit(0)"], flags={"suspicious_code"}),
    "system_exit": Hostile(["raise SystemExit(1)"], flags={"suspicious_code"}),
    "keyboard_interrupt": Hostile(["raise KeyboardInterrupt"], flags={"suspicious_code"}),
    "infinite_loop": Hostile(["while True:\n    pass"], base="solution", score=3.0, flags={"timeout"}),
    "memory_bomb": Hostile(["b = []\nwhile True:\n    b.append(bytearray(2**26))"], base="solution",
                           flags={"memory_limit", "kernel_died"}),
    "fork_bomb": Hostile(["import os\nfor _ in range(1000):\n    try:\n        os.fork()\n    except OSError:\n"
                          "        break"], flags={"suspicious_code"}),
    "read_autograder": Hostile(["import glob, os\nfor p in ['../../../autograder', '/work', '../../..']:\n"
                                "    try:\n        print(os.listdir(p))\n    except OSError as e:\n"
                                "        print(e)\nprint(glob.glob('/**/test_tiny.py', recursive=True))"],
                               flags={"suspicious_code"}),
    "fake_gradebook": Hostile(["open('../../../gradebook.db', 'w').write('x')"], flags={"suspicious_code"}),
    "fake_results": Hostile(["import json\njson.dump({'score': 3}, open('results.json', 'w'))\n"
                             "print('Hidden checks: 3 / 3 points')"], flags={"suspicious_code"}),
    "edited_metadata": Hostile(edit=_edit_metadata, flags={"changed_cell"}),
    "deleted_test_cells": Hostile(edit=_delete_grade_cells, flags={"missing_cell"}),
    "duplicated_test_cells": Hostile(edit=_duplicate_grade_cells, flags={"duplicate_cell", "normalized"}),
    "hard_coded_visible": Hostile(base="stub", edit=_hard_code, score=0.0, flags={"passes_visible_only"}),
    "network": Hostile(["import socket\ntry:\n    socket.create_connection(('pypi.org', 443), timeout=3)\n"
                        "except OSError as e:\n    print('blocked', e)"], flags={"suspicious_code"}),
    "fake_all_passed": Hostile(["get_ipython().set_custom_exc((BaseException,), "
                                "lambda *a, **k: print('All tests passed!'))"],
                               flags={"suspicious_code", "passes_visible_only"}),
    "forged_probe_reply": Hostile(["import json\n_dumps = json.dumps\n"
                                   "json.dumps = lambda *a, **k: '{\"nonce\": \"x\", \"value\": 1}'"],
                                  base="solution", flags={"suspicious_code"}),
}
HONEST = ("alice", "bob")  # solutions, graded in the same batch


@pytest.fixture(scope="module")
def batch(tmp_path_factory: pytest.TempPathFactory) -> Path:
    course = make_course(tmp_path_factory.mktemp("adv") / "course")
    (course.root / "pyproject.toml").write_text(SHORT_LIMITS)
    build_assignment(course, TINY, verify=False)
    root = course.root
    nbgrader(root, "generate_assignment", TINY, "--force")
    stub = nbformat.read(course.release / TINY / f"{TINY}.ipynb", as_version=4)
    solution = nbformat.read(course.solutions / TINY / f"{TINY}.ipynb", as_version=4)
    students = {s: copy.deepcopy(solution) for s in HONEST}
    for name, hostile in HOSTILE.items():
        nb = copy.deepcopy(stub if hostile.base == "stub" else solution)
        position = len(nb.cells) if hostile.at_end else 2  # last, or right after the setup cell
        for source in hostile.cells:
            nb.cells.insert(position, nbformat.v4.new_code_cell(source))
            position += 1
        if hostile.edit is not None:
            hostile.edit(nb)
        students[name] = nb
    for student, nb in students.items():
        dest = root / "submitted" / student / TINY
        dest.mkdir(parents=True)
        (dest / f"{TINY}.ipynb").write_text(json.dumps(nb))  # raw: duplicate ids and all
    graded = autograde(root, TINY, progress=False)
    assert sorted(graded) == sorted(students), "the batch stopped early"
    return root


def _report(root: Path, student: str) -> dict:
    return json.loads((root / "reports" / TINY / f"{student}.json").read_text())


def _total(root: Path, student: str) -> float:
    rows = {s: scores for s, scores, _ in class_report(root, TINY).rows}
    return sum(score for score, _ in rows[student].values())


def _flag_kinds(root: Path, student: str) -> set[str]:
    """The flags the class report shows (the graded run and the notebook as submitted)."""
    return next(set(flags) for s, _, flags in class_report(root, TINY).rows if s == student)


def _formgrader_comments(root: Path, student: str) -> str:
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{root / 'gradebook.db'}") as gb:
        sub = gb.find_submission_notebook(TINY, TINY, student)
        return "\n".join(c.auto_comment or "" for c in sub.comments)


@pytest.mark.parametrize("student", HONEST)
def test_honest_students_are_unaffected(batch: Path, student: str) -> None:
    assert _total(batch, student) == 3.0
    assert _flag_kinds(batch, student) == set()
    assert "pt2jax" not in _formgrader_comments(batch, student)


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_submission_gains_nothing_and_is_flagged(batch: Path, name: str) -> None:
    hostile = HOSTILE[name]
    report = _report(batch, name)
    assert "error" not in report, report
    assert _total(batch, name) == hostile.score == report["score"]
    kinds = _flag_kinds(batch, name)
    assert hostile.flags <= kinds, f"flags {kinds}"
    assert "[pt2jax " in _formgrader_comments(batch, name)  # the instructor sees it in the formgrader


def test_nothing_written_outside_the_sandbox(batch: Path) -> None:
    assert not (batch / "results.json").exists()
    assert "SQLite" in (batch / "gradebook.db").read_bytes()[:16].decode(errors="replace")
    assert not list(batch.glob("submitted/*/*/results.json"))
    assert shutil.which("bwrap")
