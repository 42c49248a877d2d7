"""A synthetic class for tests and benchmarks: for one assignment, ``n`` submissions mixing full
solutions, partial ones (half the answers left as the stub), wrong-but-plausible answers (from
``tests/variants/<a>.py`` where the assignment has them), broken notebooks (a syntax error, a deleted
answer cell, a corrupt file) and hostile ones (code that patches the grader's tools, exits the kernel,
loops forever or writes where it should not). Deterministic for a given seed."""

from __future__ import annotations

import copy
import importlib.util
import json
import random
from pathlib import Path
from typing import Any

import nbformat

from ..config import CourseDir
from ..nbmeta import grade_id, is_answer

__all__ = ["HOSTILE_CELLS", "KINDS", "synthetic_class", "write_class"]

KINDS = ("full", "partial", "wrong", "broken", "hostile")
# each kind's share of a class, in order: most students hand in something reasonable
_WEIGHTS = (4, 3, 4, 1, 1)

# cells a hostile student adds after the setup cell (assignment-independent; the tiny course's
# adversarial suite, tests/test_adversarial.py, has the full catalogue with the flags each must raise)
HOSTILE_CELLS: dict[str, str] = {
    "patch_perf_counter": "import time\ntime.perf_counter = lambda: 0.0",
    "patch_numpy": "import numpy as np\nnp.allclose = lambda *a, **k: True",
    "os_exit": "import os\nos._exit(0)",
    "infinite_loop": "while True:\n    pass",
    "fake_gradebook": "open('../../../gradebook.db', 'w').write('x')",
    "fake_all_passed": "get_ipython().set_custom_exc((BaseException,), lambda *a, **k: print('All tests passed!'))",
}


def _variants(repo: Path, assignment: str) -> dict[str, Any]:
    path = repo / "tests" / "variants" / f"{assignment}.py"
    if not path.exists():
        return {}
    spec = importlib.util.spec_from_file_location(f"variants_{assignment}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return {name: v for name, v in module.VARIANTS.items() if v.get("lost") and not v.get("alone")}


def _clean(nb: Any) -> Any:
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
        cell.metadata.pop("execution", None)
    return nb


def _with(nb: Any, answers: dict[str, str]) -> Any:
    for cell in nb.cells:
        if (gid := grade_id(cell)) is not None and gid in answers:
            cell.source = answers[gid]
    return nb


def synthetic_class(course: CourseDir, assignment: str, n: int, *, seed: int = 0,
                    repo: Path | None = None) -> dict[str, tuple[str, str]]:
    """``n`` students → (kind, notebook text), from ``course``'s solutions/ and release/ and the
    variants under ``repo`` (default: the course itself)."""
    rng = random.Random(f"{seed}|{assignment}")
    solution = _clean(nbformat.read(course.solutions / assignment / f"{assignment}.ipynb", as_version=4))
    stub = nbformat.read(course.master(assignment), as_version=4)
    stub_answers = {gid: c.source for c in stub.cells if is_answer(c) and (gid := grade_id(c))}
    variants = _variants(repo or course.root, assignment)
    out: dict[str, tuple[str, str]] = {}
    # every kind at least once (from five students on), the rest drawn by the weights, in random order
    kinds = list(KINDS[:n]) + rng.choices(KINDS, weights=_WEIGHTS, k=max(n - len(KINDS), 0))
    rng.shuffle(kinds)
    for i, kind in enumerate(kinds):
        if kind == "wrong" and not variants:
            kind = "partial"
        nb = copy.deepcopy(solution)
        if kind == "partial":
            ids = sorted(stub_answers)
            _with(nb, {g: stub_answers[g] for g in rng.sample(ids, max(1, len(ids) // 2))})
        elif kind == "wrong":
            _with(nb, variants[rng.choice(sorted(variants))]["answers"])
        elif kind == "broken":
            how = rng.choice(("syntax", "deleted", "corrupt"))
            answers = [c for c in nb.cells if is_answer(c) and c.cell_type == "code"]
            if how == "corrupt":
                out[f"syn{i:03d}"] = (kind, '{"cells": [{"cell_type": "code", "source": "trunc')
                continue
            if how == "syntax":
                answers[0].source = "def broken(:\n    pass\n" + answers[0].source
            else:
                nb.cells.remove(answers[0])
        elif kind == "hostile":
            name = rng.choice(sorted(HOSTILE_CELLS))
            cell = nbformat.v4.new_code_cell(HOSTILE_CELLS[name])
            cell.id = f"syn-hostile-{i:03d}"  # nbformat draws a random id otherwise
            nb.cells.insert(min(2, len(nb.cells)), cell)
        out[f"syn{i:03d}"] = (kind, json.dumps(nb, indent=1, sort_keys=True, ensure_ascii=False) + "\n")
    return out


def write_class(root: Path, assignment: str, students: dict[str, tuple[str, str]]) -> list[Path]:
    """Put the class into ``root/submitted/<student>/<assignment>/<assignment>.ipynb`` (with a timestamp)."""
    paths = []
    for student, (_, text) in students.items():
        folder = root / "submitted" / student / assignment
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{assignment}.ipynb"
        path.write_text(text)
        (folder / "timestamp.txt").write_text("2026-11-20 12:00:00.000000 UTC\n")
        paths.append(path)
    return paths
