"""Restore step: the instructor's locked and grade cells replace whatever the student did to them."""

from __future__ import annotations

import copy
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nbformat

from ..nbmeta import grade_id as _gid
from ..nbmeta import is_answer as _is_answer
from ..nbmeta import key_metadata as _key_meta
from ..results import Flag

__all__ = ["RestoreResult", "read_notebook", "restore"]


def read_notebook(path: Path) -> nbformat.NotebookNode:
    """Read a submitted notebook; nbformat's repairs (missing or duplicate cell ids) are not errors,
    whatever the warnings filter says (restore re-numbers every cell anyway)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return nbformat.read(path, as_version=4)


@dataclass
class RestoreResult:
    """The notebook to execute and what restoring it found."""

    nb: nbformat.NotebookNode
    flags: list[Flag] = field(default_factory=list)


def restore(student: nbformat.NotebookNode, master: nbformat.NotebookNode) -> RestoreResult:
    """Merge ``student`` into the order of ``master``.

    Cells of the master that carry a grade_id are anchors. Locked and grade cells come from the
    master; answer cells keep the student's source under the master's metadata (a missing answer
    falls back to the master's stub). Cells the student added stay after the anchor they followed.
    """
    flags: list[Flag] = []
    anchors = {g: c for c in master.cells if (g := _gid(c))}
    answers: dict[str, Any] = {}
    extras: dict[str | None, list[Any]] = {None: []}
    current: str | None = None
    for cell in student.cells:
        gid = _gid(cell)
        if gid in anchors:
            if gid in answers:
                msg = f"cell '{gid}' appears more than once; only the first copy is run and graded"
                flags.append(Flag("duplicate_cell", msg, gid))
                continue
            answers[gid] = cell
            current = gid
            extras.setdefault(gid, [])
        else:
            if gid is not None:
                msg = f"cell '{gid}' is not part of the assignment; run as an ordinary cell"
                flags.append(Flag("unknown_cell", msg, gid))
            extras[current].append(_plain(cell))

    out = nbformat.v4.new_notebook(metadata=copy.deepcopy(master.metadata))
    out.cells.extend(extras[None])
    for mcell in master.cells:
        gid = _gid(mcell)
        if gid is None:
            continue  # unlabelled master cells (prose) are the student's to edit: theirs were kept
        scell = answers.get(gid)
        if _is_answer(mcell):
            if scell is None:
                flags.append(Flag("missing_cell", f"answer cell '{gid}' was deleted; graded as unanswered", gid))
                new = copy.deepcopy(mcell)
            else:
                new = copy.deepcopy(mcell)
                new.source = scell.get("source", "") if isinstance(scell.get("source", ""), str) else ""
                if scell.get("cell_type") != mcell.cell_type:
                    flags.append(Flag("changed_cell", f"cell '{gid}' changed type; the master's type is used", gid))
        else:
            new = copy.deepcopy(mcell)
            if scell is None:
                flags.append(Flag("missing_cell", f"locked cell '{gid}' was deleted; restored", gid))
            elif scell.get("source") != mcell.source or _key_meta(scell) != _key_meta(mcell):
                flags.append(Flag("changed_cell", f"locked cell '{gid}' was edited; restored", gid))
        if scell is not None and _key_meta(scell) != _key_meta(mcell) and _is_answer(mcell):
            flags.append(Flag("changed_metadata", f"nbgrader metadata of '{gid}' was edited; restored", gid))
        if new.cell_type == "code":
            new.outputs, new.execution_count = [], None
        out.cells.append(new)
        out.cells.extend(extras.get(gid, []))
    for i, cell in enumerate(out.cells):
        cell["id"] = f"cell-{i}"  # student ids may collide or be missing
    return RestoreResult(out, flags)


def _plain(cell: Any) -> Any:
    """A student cell stripped of nbgrader metadata (it is graded as nothing)."""
    new = copy.deepcopy(cell)
    new.get("metadata", {}).pop("nbgrader", None)
    if new.get("cell_type") == "code":
        new["outputs"], new["execution_count"] = [], None
    return new
