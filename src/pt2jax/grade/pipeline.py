"""Grading one notebook: an explicit list of steps (read, restore, execute, probe + judge, record)."""

from __future__ import annotations

import contextlib
import copy
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nbformat

from ..config import CourseDir, Limits
from ..errors import GradingError
from ..nbmeta import grade_id, is_grade_cell, is_locked
from ..results import Flag, GradeReport
from .audit import audit_cells
from .judge import JudgeRun
from .kernel import Kernel
from .probe import KernelStudent, Options, RecordingStudent, Student, StudentBase
from .record import record
from .restore import read_notebook, restore
from .sandbox import Sandbox, probe_sandbox

__all__ = ["STEPS", "GradeRequest", "grade_notebook"]


@dataclass
class GradeRequest:
    """Everything needed to grade one notebook."""

    notebook: Path
    assignment: str
    course: CourseDir
    seed: int
    student_id: str = "anonymous"
    autograder: Path | None = None
    limits: Limits | None = None
    record_probes: Path | None = None
    master: Path | None = None  # released notebook to restore from (default: release/<a>/<a>.ipynb)
    sandbox: bool = True  # False only when an instructor explicitly asks to run unsandboxed

    @property
    def master_path(self) -> Path:
        return self.master or self.course.master(self.assignment)


@dataclass
class _State:
    request: GradeRequest
    report: GradeReport
    master: nbformat.NotebookNode
    submitted: nbformat.NotebookNode | None = None
    nb: nbformat.NotebookNode | None = None
    student: Student | None = None


class _Unreadable(StudentBase):
    """Stands in for a notebook that could not be run: every probe fails with ``reason``."""

    def __init__(self, reason: str) -> None:
        self.reason = reason

    def request(
        self, op: str, name: str, args: tuple[Any, ...], kwargs: dict[str, Any], options: Options = None
    ) -> Any:
        return {"crashed": self.reason}


def _read(state: _State) -> None:
    try:
        nb = read_notebook(state.request.notebook)
        if not isinstance(nb.get("cells"), list):
            raise ValueError("it has no list of cells")
        state.submitted = nb
    except FileNotFoundError:
        state.report.errors.append(f"no submitted notebook at {state.request.notebook.name}")
    except Exception as exc:  # invalid JSON, wrong schema, binary junk ...
        msg = str(exc).splitlines()[0][:300] if str(exc) else type(exc).__name__
        state.report.errors.append(f"the notebook file could not be read ({msg})")
        state.report.flags.append(Flag("invalid_notebook", msg))


def _restore(state: _State) -> None:
    if state.submitted is None:
        return
    result = restore(state.submitted, state.master)
    state.nb = result.nb
    state.report.flags.extend(result.flags)


def _audit(state: _State) -> None:
    """Flag suspicious constructs in the student's own cells (answers and added cells)."""
    if state.nb is None:
        return
    master_sources = {c.source for c in state.master.cells if c.cell_type == "code"}
    own = [c for c in state.nb.cells
           if c.cell_type == "code" and c.source not in master_sources
           and not is_locked(c)]
    state.report.flags.extend(audit_cells(own))


def _execute_and_judge(state: _State) -> None:
    req, report = state.request, state.report
    autograder = req.autograder or req.course.autograder / req.assignment
    limits = req.limits or req.course.limits
    if state.nb is None:
        reason = report.errors[0] if report.errors else "the notebook could not be run"
        report.results = JudgeRun(autograder, seed=req.seed, student_id=req.student_id,
                                  assignment=req.assignment).results(_Unreadable(reason))
        state.nb = _blank_copy(state.master)
        return
    # pytest starts, collects and computes references while the notebook runs; checks wait for the kernel
    judging = JudgeRun(autograder, seed=req.seed, student_id=req.student_id, assignment=req.assignment)
    try:
        _run_and_probe(state, judging, limits)
    except BaseException:  # never leave the checks waiting for a student that will not come
        judging.abandon(_Unreadable("grading stopped before the notebook could be probed"))
        raise
    _flag_visible_only(state)
    for r in report.results:
        if r.grader_error:
            report.flags.append(Flag("grader_error", f"{r.name}: {r.grader_error}", r.grade_id))


def _run_and_probe(state: _State, judging: JudgeRun, limits: Limits) -> None:
    req, report = state.request, state.report
    assert state.nb is not None
    with tempfile.TemporaryDirectory(prefix="pt2jax-run-") as tmp, contextlib.ExitStack() as stack:
        scratch = Path(tmp)
        _stage_workdir(req.master_path.parent, scratch)
        box = None
        if req.sandbox:
            box = stack.enter_context(Sandbox(scratch, int(limits.memory_mb), int(limits.pids_max)))
        else:
            report.flags.append(Flag("unsandboxed", "graded without the sandbox, as the instructor asked"))
        with Kernel(state.nb, scratch, limits, box) as kernel:
            start = time.perf_counter()
            report.execution = kernel.run_notebook()
            report.timings["notebook_s"] = time.perf_counter() - start
            if box is not None and box.oom_killed():
                report.flags.append(Flag("memory_limit", f"the notebook hit the {limits.memory_mb:g} MB memory limit"))
            for issue in report.execution.issues:
                if issue.kind != "error":
                    report.flags.append(Flag(issue.kind, f"cell {issue.index}: {issue.message}", issue.grade_id))
            student: Any = KernelStudent(kernel, limits.call_timeout_s)
            if req.record_probes is not None:
                student = RecordingStudent(student)
            start = time.perf_counter()
            report.results = judging.results(student)
            report.timings |= {"checks_s": time.perf_counter() - start, "probes_s": judging.probe_seconds,
                               "probes": judging.probes}
            if isinstance(student, RecordingStudent) and req.record_probes is not None:
                student.save(req.record_probes)
            seen = judging.student  # what the checks received
            if seen.opaque_types:
                types = ", ".join(sorted(seen.opaque_types)[:5])
                report.flags.append(Flag("unexpected_type", f"functions returned objects that are not data: {types}"))
            for problem in dict.fromkeys(seen.disagreements):
                report.flags.append(Flag("fact_disagreement", problem))


def _flag_visible_only(state: _State) -> None:
    """A grade cell whose visible self-check ran clean in the student's kernel while its hidden checks
    failed: an answer fitted to the visible example, or a notebook hiding its own errors. And the
    reverse: a self-check that raised while every hidden check of its cell passed: the hidden checks
    may be missing what the self-check caught (or the cell failed for another reason)."""
    report = state.report
    if report.execution is None or state.nb is None:
        return
    troubled = {i.index for i in report.execution.issues}
    errored = {i.index for i in report.execution.issues if i.kind == "error"}
    failed = {r.grade_id for r in report.results if not r.passed}
    judged = {r.grade_id for r in report.results}
    for index, cell in enumerate(state.nb.cells):
        gid = grade_id(cell)
        if is_grade_cell(cell) and gid in failed and index not in troubled:
            report.flags.append(Flag(
                "passes_visible_only",
                f"'{gid}': the visible self-check passed but hidden checks failed (hard-coded answer?)", gid))
        elif is_grade_cell(cell) and gid in judged and gid not in failed and index in errored:
            report.flags.append(Flag(
                "fails_visible_only",
                f"'{gid}': the visible self-check raised but every hidden check passed (a case the hidden"
                " checks do not try?)", gid))


def _record(state: _State) -> None:
    assert state.nb is not None
    state.report.cell_scores = record(state.nb, state.report.results)
    state.report.notebook = state.nb


STEPS: tuple[Callable[[_State], None], ...] = (_read, _restore, _audit, _execute_and_judge, _record)


def _blank_copy(master: nbformat.NotebookNode) -> nbformat.NotebookNode:
    return copy.deepcopy(master)


def _stage_workdir(src: Path, dest: Path) -> None:
    if not src.is_dir():
        return
    for item in src.iterdir():
        if item.is_file() and item.suffix != ".ipynb":
            shutil.copy(item, dest / item.name)


def grade_notebook(request: GradeRequest) -> GradeReport:
    """Grade one notebook file; raises GradingError only when grading itself cannot run."""
    master_path = request.master_path
    if not master_path.exists():
        raise GradingError(
            f"unknown assignment {request.assignment!r}: {master_path} does not exist (run `pt2jax build`?)"
        )
    if request.sandbox:
        with tempfile.TemporaryDirectory(prefix="pt2jax-probe-") as tmp:
            problem = probe_sandbox(Path(tmp))
        if problem is not None:
            raise GradingError(
                f"the sandbox does not work here ({problem}); refusing to run student code without it."
                " Install bubblewrap and run as root, or pass --unsandboxed to accept the risk."
            )
    master = nbformat.read(master_path, as_version=4)
    report = GradeReport(request.assignment, request.seed, request.student_id)
    state = _State(request, report, master)
    start = time.perf_counter()
    for step in STEPS:
        step(state)
    report.timings["total_s"] = time.perf_counter() - start
    return report

