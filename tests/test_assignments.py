"""Every real assignment: check points add up, the solution scores full marks, the stub zero, and
every wrong-but-plausible variant loses exactly the points it should."""

from __future__ import annotations

import ast
import importlib.util
from collections import defaultdict
from pathlib import Path
from typing import Any

import nbformat
import pytest
from conftest import REPO, cell_scores, grade, with_answers

from pt2jax.checks import MARKER
from pt2jax.config import CourseDir
from pt2jax.course.gradebook import REVIEW_FLAGS
from pt2jax.grade.compile_cache import WARM_MARK
from pt2jax.kit.check import FULL_TRACEBACK_NOTE as SELF_CHECK_FAILED  # ends every failed self-check
from pt2jax.kit.check import MISCONCEPTIONS, hint_text
from pt2jax.nbmeta import exercise_of, grade_cells

COURSE = CourseDir(REPO)
SELF_CHECKS_ALIGNED = {"01_arrays", "02_autodiff", "03_resnet", "04_training", "05_jit"}
ASSIGNMENTS = COURSE.assignments()


def _checks(assignment: str) -> list[tuple[str, float, str]]:
    """(grade_id, points, name) of every hidden check, read from the @graded markers."""
    found = []
    for path in sorted((COURSE.autograder / assignment).glob("test_*.py")):
        spec = importlib.util.spec_from_file_location(f"_ag_{assignment}_{path.stem}", path)
        assert spec and spec.loader
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        for name, fn in vars(module).items():
            if name.startswith("test_") and callable(fn):
                marks = [m for m in getattr(fn, "pytestmark", []) if m.name == MARKER]
                assert len(marks) == 1, f"{path.name}::{name} needs exactly one @graded"
                found.append((marks[0].kwargs["grade_id"], marks[0].kwargs["points"], name))
    return found


def _variants(assignment: str) -> dict[str, dict[str, Any]]:
    path = REPO / "tests" / "variants" / f"{assignment}.py"
    spec = importlib.util.spec_from_file_location(f"_variants_{assignment}", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.VARIANTS


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_check_points_sum_to_cell_points(assignment: str) -> None:
    cells = grade_cells(nbformat.read(COURSE.master(assignment), as_version=4))
    total: dict[str, float] = defaultdict(float)
    for gid, points, _ in _checks(assignment):
        assert gid in cells, f"a check grades unknown cell {gid}"
        total[gid] += points
    assert dict(total) == cells


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_solution_full_marks(assignment: str, tmp_path: Path) -> None:
    """The one real grade per assignment in `make test`. The first assignment's also warms a compilation
    cache as `pt2jax build` and `pt2jax autograde` do (the read-only side and the tiny course's warming are
    tests/test_compile_cache.py); the others grade without one, as a lone `pt2jax grade` does: writing the
    cache makes 04's grade about a minute longer."""
    warms = assignment == ASSIGNMENTS[0]
    cache = tmp_path / "jax-cache"
    sol = grade(COURSE, COURSE.solutions / assignment / f"{assignment}.ipynb", assignment, seed=11,
                extra=("--compile-cache", str(cache), "--warm-cache") if warms else ())
    failed = [(t["name"], t["feedback"]) for t in sol["tests"] if not t["passed"]]
    assert sol["score"] == sol["max_score"] > 0, failed
    # no flag at all, but the one that says the machine was too busy to judge a speed (informational: the
    # point then rests on the function's structure; a loaded CI box may raise it for 05's chain)
    assert not [f for f in sol["flags"] if f["kind"] != "speed_inconclusive"], sol["flags"]
    assert not warms or ((cache / WARM_MARK).exists() and len(list(cache.iterdir())) > 1)


@pytest.mark.slow  # a second real grade per assignment (pt2jax build also refuses a stub that scores)
@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_released_stub_scores_zero_without_grader_errors(assignment: str) -> None:
    stub = grade(COURSE, COURSE.master(assignment), assignment, seed=11)
    cells = grade_cells(nbformat.read(COURSE.master(assignment), as_version=4))
    assert stub["score"] == 0 and stub["max_score"] == sum(cells.values()) > 0
    assert not [t for t in stub["tests"] if t.get("grader_error")]


def _disjoint_groups(variants: dict[str, dict[str, Any]]) -> list[list[str]]:
    """Pack variants touching different answer and grade cells into one notebook each."""
    groups: list[tuple[set[str], list[str]]] = []
    for name, v in variants.items():
        if v.get("alone"):  # it changes the notebook's state for later cells (e.g. global x64): graded alone
            groups.append(({"*"}, [name]))
            continue
        touched = set(v["answers"]) | set(v["lost"])
        for used, names in groups:
            if "*" not in used and not used & touched:
                used |= touched
                names.append(name)
                break
        else:
            groups.append((touched, [name]))
    return [names for _, names in groups]


@pytest.mark.slow  # every variant of every assignment graded in full: make test-slow
@pytest.mark.timeout(2700)  # 03's groups take ~15 min on a loaded 2-core box (the default bound is 900 s)
@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_wrong_but_plausible_variants_lose_exactly_their_points(assignment: str, tmp_path: Path) -> None:
    variants = _variants(assignment)
    assert len(variants) >= 5
    solution = COURSE.solutions / assignment / f"{assignment}.ipynb"
    full = grade_cells(nbformat.read(COURSE.master(assignment), as_version=4))
    for i, names in enumerate(_disjoint_groups(variants)):
        answers: dict[str, str] = {}
        expected = dict(full)
        for name in names:
            answers.update(variants[name]["answers"])
            for gid, lost in variants[name]["lost"].items():
                expected[gid] -= lost
        nb = with_answers(solution, answers, tmp_path / f"group{i}.ipynb")
        report = grade(COURSE, nb, assignment, seed=5 + i)
        got = cell_scores(report)
        wrong = {g: (got[g], expected[g]) for g in full if got[g] != expected[g]}
        assert not wrong, f"variants {names}: cell -> (got, expected) {wrong}"
        for t in report["tests"]:
            if not t["passed"]:
                assert t["feedback"], f"{t['name']} failed without feedback"
        # feedback names the cause where the variant says it must, and only there
        for name in names:
            for gid, wanted in variants[name].get("hints", {}).items():
                given = {h for t in report["tests"] if t["grade_id"] == gid and not t["passed"] for h in t["hints"]}
                assert set(wanted) <= given, f"variant {name}: {gid} gave hints {given}, expected {wanted}"
            for gid, unwanted in variants[name].get("not_hints", {}).items():
                given = {h for t in report["tests"] if t["grade_id"] == gid for h in t["hints"]}
                assert not set(unwanted) & given, f"variant {name}: {gid} blamed {set(unwanted) & given}"
        # an honest answer (loses nothing) costs the instructor nothing either: no flag asks for review
        honest = {exercise_of(g) for name in names if not variants[name]["lost"] for g in variants[name]["answers"]}
        flagged = [f for f in report["flags"] if f["kind"] in REVIEW_FLAGS and exercise_of(f.get("grade_id")) in honest]
        assert not flagged, f"variants {names}: honest answers flagged for review: {flagged}"
        # the notebook's own self-check names the same slip as the grader, in the same words (checked
        # where the self-checks have been brought in line with the hidden checks)
        differs = {g for name in names for g in variants[name].get("self_check_differs", {})}  # known gaps
        for gid, hints in _failed_hints(report).items() if assignment in SELF_CHECKS_ALIGNED else ():
            shown = report["self_checks"].get(gid, "")
            if gid in differs:
                continue
            if hints and SELF_CHECK_FAILED in shown:
                named = {h for h in MISCONCEPTIONS if hint_text(h) in shown}
                assert named & hints, f"variants {names}: {gid}: the grader names {sorted(hints)}, the" \
                                      f" self-check {sorted(named)}:\n{shown[-1500:]}"


def _failed_hints(report: dict[str, Any]) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for t in report["tests"]:
        if not t["passed"]:
            out.setdefault(t["grade_id"], set()).update(t["hints"])
    return out


def _definitions(source: str) -> dict[str, str]:
    """Top-level functions and classes of `source`, dumped without docstrings or annotations."""

    class Strip(ast.NodeTransformer):
        def generic_visit(self, node: ast.AST) -> ast.AST:
            super().generic_visit(node)
            if (isinstance(node, ast.FunctionDef | ast.ClassDef) and len(node.body) > 1
                    and ast.get_docstring(node, clean=False) is not None):
                node.body = node.body[1:]
            if isinstance(node, ast.FunctionDef):
                node.returns = None
            if isinstance(node, ast.arg):
                node.annotation = None
            return node

    tree = Strip().visit(ast.parse(source))
    return {n.name: ast.dump(n) for n in tree.body if isinstance(n, ast.FunctionDef | ast.ClassDef)}


@pytest.mark.parametrize(
    "assignment", [a for a in ASSIGNMENTS if (COURSE.autograder / a / "_reference.py").exists()]
)
def test_locked_notebook_code_matches_grader_reference(assignment: str) -> None:
    """The torch model and helpers a student sees in locked cells are the grader's: one definition."""
    nb = nbformat.read(COURSE.master(assignment), as_version=4)
    locked = "\n\n".join(
        c.source for c in nb.cells
        if c.cell_type == "code" and c.metadata.get("nbgrader", {}).get("locked")
        and not c.source.lstrip().startswith(("%", "!"))
    )
    notebook = _definitions(locked)
    reference: dict[str, str] = {}
    for helper in sorted((COURSE.autograder / assignment).glob("_*.py")):
        reference |= _definitions(helper.read_text())
    shared = sorted(set(notebook) & set(reference))
    assert shared, "no definition is shared: the test would compare nothing"
    differ = [name for name in shared if notebook[name] != reference[name]]
    assert not differ, f"locked cells and the grader's helpers define these differently: {differ}"
    assert {"TorchBasicBlock", "TorchResNet18"} <= set(shared), "the torch model is not the grader's"
