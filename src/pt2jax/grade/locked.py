"""What the master's locked cells define, so the kernel side can keep it out of later cells' reach.

The checks call helpers that live in the student's kernel (``graded_*`` in 03, ``jit_loss`` in 02).
Restoring the locked cells' source is not enough while a later cell can rebind the names they
define, so after each locked cell runs the grader has the kernel side capture what that cell bound
(:meth:`pt2jax.grade.probe.KernelStudent.capture`); probes then call those objects, rebuilt over
globals in which the locked names cannot be rebound (see ``kernel_side.__pt2jax_namespace``).
"""

from __future__ import annotations

import ast
from typing import Any

from ..nbmeta import is_answer, is_locked

__all__ = ["bound_names", "imported_packages", "locked_bindings"]


def _source(cell: Any) -> str:
    return "\n".join(line for line in str(cell.get("source", "")).splitlines()
                     if not line.lstrip().startswith(("%", "!")))


def bound_names(source: str) -> list[str]:
    """Names bound at the top level of ``source`` (defs, classes, imports, assignments)."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return []
    names: list[str] = []
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.append(node.name)
        elif isinstance(node, ast.Import | ast.ImportFrom):
            for alias in node.names:
                if alias.name != "*":
                    names.append(alias.asname or alias.name.split(".")[0])
        elif isinstance(node, ast.Assign | ast.AnnAssign | ast.AugAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                for sub in ast.walk(target):
                    if isinstance(sub, ast.Name):
                        names.append(sub.id)
    return list(dict.fromkeys(names))


def locked_bindings(nb: Any, master: Any) -> dict[int, list[str]]:
    """For each locked code cell of ``nb`` (restored: its source is the master's), the names it binds
    that no answer cell of the master binds too (those are the student's to define)."""
    answers: set[str] = set()
    for cell in master.cells:
        if cell.get("cell_type") == "code" and is_answer(cell):
            answers.update(bound_names(_source(cell)))
    found: dict[int, list[str]] = {}
    for index, cell in enumerate(nb.cells):
        if cell.get("cell_type") == "code" and is_locked(cell) and not is_answer(cell):
            names = [n for n in bound_names(_source(cell)) if n not in answers and not n.startswith("__")]
            if names:
                found[index] = names
    return found


def imported_packages(master: Any) -> list[str]:
    """Top-level packages the master's code cells import (their pristine state is kept)."""
    packages: set[str] = set()
    for cell in master.cells:
        if cell.get("cell_type") != "code":
            continue
        try:
            tree = ast.parse(_source(cell))
        except SyntaxError:
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                packages.update(a.name.split(".")[0] for a in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                packages.add(node.module.split(".")[0])
    return sorted(packages)
