"""Regenerate examples/submissions/ (sample students graded by `make demo`) from solutions/ and
tests/variants/. Run: .venv/bin/python examples/make_submissions.py"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "examples" / "submissions"


def _variants(assignment: str) -> dict:
    spec = importlib.util.spec_from_file_location("variants", ROOT / "tests" / "variants" / f"{assignment}.py")
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module.VARIANTS


def _clean(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
        cell.metadata.pop("execution", None)  # timestamps of the build's run: not part of a submission
    return nb


def _write(out: Path, student: str, assignment: str, nb: nbformat.NotebookNode | str) -> None:
    path = out / student / assignment / f"{assignment}.ipynb"
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(nb, str):
        path.write_text(nb)
    else:
        path.write_text(json.dumps(_clean(nb), indent=1, sort_keys=True, ensure_ascii=False) + "\n")


def _answer(nb: nbformat.NotebookNode, answers: dict[str, str]) -> nbformat.NotebookNode:
    for cell in nb.cells:
        gid = cell.metadata.get("nbgrader", {}).get("grade_id")
        if gid in answers:
            cell.source = answers[gid]
    return nb


def main(out: Path = OUT) -> None:
    """Write every sample submission under ``out`` (tests/test_build.py checks the committed ones are fresh)."""
    from pt2jax.config import CourseDir

    for assignment in CourseDir(ROOT).assignments():  # not drafts, even when built
        sol_path = ROOT / "solutions" / assignment / f"{assignment}.ipynb"
        read = lambda p=sol_path: nbformat.read(p, as_version=4)  # noqa: E731
        variants = {n: v for n, v in _variants(assignment).items() if v["lost"]}  # wrong answers only
        names = list(variants)
        _write(out, "alice", assignment, read())  # a correct solution
        habits = {}
        for name in names[: len(names) // 2]:
            habits.update(variants[name]["answers"])
        _write(out, "bob", assignment, _answer(read(), habits))  # PyTorch habits in half the exercises
        rest = {}
        for name in names[len(names) // 2 :]:
            rest.update(variants[name]["answers"])
        _write(out, "carol", assignment, _answer(read(), rest))  # the other habits
        stub = nbformat.read(ROOT / "release" / assignment / f"{assignment}.ipynb", as_version=4)
        _write(out, "dave", assignment, stub)
        erin = read()
        answers = [c for c in erin.cells if c.metadata.get("nbgrader", {}).get("solution")]
        erin.cells.remove(answers[0])  # deleted an answer cell
        answers[1].source = answers[1].source.replace("def ", "def broken(:\n    pass\ndef ", 1)  # syntax error
        _write(out, "erin", assignment, erin)
        _write(out, "frank", assignment, '{"cells": [{"cell_type": "code", "source": "trunc')  # corrupt file


if __name__ == "__main__":
    main()
