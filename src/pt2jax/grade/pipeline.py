"""Grading one notebook: an explicit list of steps (read, restore, execute, probe + judge, record)."""

from __future__ import annotations

import contextlib
import copy
import os
import re
import shutil
import signal
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nbformat

from ..config import CourseDir, Limits
from ..errors import GradingError
from ..nbmeta import exercise_of, grade_id, is_answer, is_grade_cell, is_locked
from ..results import Flag, GradeReport
from .audit import audit_cells
from .compile_cache import CompileCache
from .judge import JudgeRun
from .kernel import Kernel
from .locked import imported_packages, locked_bindings
from .probe import KernelStudent, Options, RecordingStudent, Student, StudentBase
from .record import record
from .restore import read_notebook, restore
from .sandbox import Sandbox, host_name, probe_sandbox, sweep_stale
from .sanitize import strip_active_content

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
    compile_cache: CompileCache | None = None  # JAX's compiled executables (read-only unless the solution's)

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
    deadline: float | None = None  # time.monotonic() by which the whole grade must be done


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
        start = time.perf_counter()
        _run_and_probe(state, judging, limits)
        # after the kernel shut down: the sandbox's cgroups and the scratch folder removed
        report.timings["cleanup_s"] = time.perf_counter() - start - sum(
            report.timings.get(k, 0.0) for k in ("kernel_start_s", "notebook_s", "checks_s", "kernel_shutdown_s"))
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
    timings = report.timings
    deadline = state.deadline
    with tempfile.TemporaryDirectory(prefix=host_name("run")) as tmp, contextlib.ExitStack() as stack:
        scratch = Path(tmp)
        _stage_workdir(req.master_path.parent, scratch)
        box = None
        cache = req.compile_cache if req.compile_cache is not None and req.compile_cache.usable() else None
        if req.sandbox:
            ro, rw = cache.mounts() if cache is not None else ((), ())
            box = stack.enter_context(Sandbox(scratch, int(limits.memory_mb), int(limits.pids_max),
                                              int(limits.scratch_mb), ro_binds=ro, rw_binds=rw))
        else:
            report.flags.append(Flag("unsandboxed", "graded without the sandbox, as the instructor asked"))
        start = time.perf_counter()
        kernel = Kernel(state.nb, scratch, limits, box, env=cache.kernel_env() if cache is not None else None)
        stack.callback(_clock, timings, "kernel_shutdown_s", +1)
        stack.enter_context(kernel)
        stack.callback(_clock, timings, "kernel_shutdown_s", -1)
        kernel_student = KernelStudent(kernel, limits.call_timeout_s)
        # before any student code: the libraries' public attributes and the real array classes
        kernel_student.prepare(imported_packages(state.master))
        timings["kernel_start_s"] = time.perf_counter() - start
        bindings = locked_bindings(state.nb, state.master)
        start = time.perf_counter()
        report.execution = kernel.run_notebook(
            deadline=deadline,
            after_cell=lambda index, _cell: kernel_student.capture(bindings.get(index, [])))
        report.timings["notebook_s"] = time.perf_counter() - start
        if box is not None and box.oom_killed():
            report.flags.append(Flag("memory_limit", f"the notebook hit the {limits.memory_mb:g} MB memory limit"))
        if box is not None and box.scratch_full():
            report.flags.append(Flag("disk_limit", f"the notebook filled its {limits.scratch_mb:g} MB working folder"))
        if kernel.cut_cells:
            report.flags.append(Flag("output_limit", "outputs past the per-cell limit were dropped in cells "
                                     + ", ".join(str(i) for i in sorted(kernel.cut_cells)[:10])))
        for issue in report.execution.issues:
            if issue.kind != "error":
                report.flags.append(Flag(issue.kind, f"cell {issue.index}: {issue.message}", issue.grade_id))
        kernel_student.deadline = deadline
        student: Any = kernel_student
        if req.record_probes is not None:
            student = RecordingStudent(student)
        start = time.perf_counter()
        report.results = judging.results(student)
        report.timings |= {"checks_s": time.perf_counter() - start, "probes_s": judging.probe_seconds,
                           "fresh_s": judging.fresh_seconds, "probes": judging.probes,
                           "fresh_reruns": kernel_student.fresh_reruns}
        if isinstance(student, RecordingStudent) and req.record_probes is not None:
            student.save(req.record_probes)
        seen = judging.student  # what the checks received
        if seen.opaque_types:
            types = ", ".join(sorted(seen.opaque_types)[:5])
            report.flags.append(Flag("unexpected_type", f"functions returned objects that are not data: {types}"))
        for problem in dict.fromkeys(seen.disagreements):
            report.flags.append(Flag("fact_disagreement", problem))
        for note in seen.check_notes:
            report.flags.append(Flag(note.kind, note.message, note.grade_id))
        _flag_runtime(report, seen.runtime_notes, kernel_student, kernel.cell_seconds,
                      judging.probe_seconds_by_grade, limits)


def _clock(timings: dict[str, Any], key: str, sign: int) -> None:
    """Called with -1 before and +1 after a phase (ExitStack callbacks run last-in first-out)."""
    timings[key] = timings.get(key, 0.0) + sign * time.perf_counter()


# A grade cell's probes may take SLOW_FACTOR times what the cell itself took in the notebook, plus
# SLOW_MARGIN_CALLS call time limits, before the grade is flagged `slow_under_grader` (functions that
# notice the grader and stall; the margin keeps a busy machine's slow calls out of it).
SLOW_FACTOR, SLOW_MARGIN_CALLS = 10.0, 2.0


def _flag_runtime(report: GradeReport, notes: dict[str, set[str]], student: KernelStudent,
                  cell_seconds: dict[str, float], probe_seconds: dict[str, float], limits: Limits) -> None:
    """Flags from what the kernel side saw around probes, and from the grade's clock."""
    if notes.get("patched"):
        report.flags.append(Flag("runtime_patched", "the notebook changed library functions (restored before"
                                 f" every probe): {', '.join(sorted(notes['patched'])[:8])}"))
    if notes.get("rebound"):
        report.flags.append(Flag("locked_rebound", "a cell rebound names that locked cells define (the"
                                 f" grader called the locked ones): {', '.join(sorted(notes['rebound'])[:8])}"))
    for problem in sorted(notes.get("impure", ()))[:5]:
        report.flags.append(Flag("not_pure_jax", problem))
    if student.out_of_time:
        report.flags.append(Flag("grade_time_limit", f"the whole grade passed its {limits.grade_timeout_s:g} s"
                                 f" limit; {student.out_of_time} probe(s) were not run"))
    for gid, seconds in sorted(probe_seconds.items()):
        took = cell_seconds.get(gid)
        if took is not None and seconds > SLOW_FACTOR * took + SLOW_MARGIN_CALLS * limits.call_timeout_s:
            report.flags.append(Flag("slow_under_grader", f"'{gid}': its checks' calls took {seconds:.0f} s under"
                                     f" the grader, the cell {took:.1f} s in the notebook", gid))


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
    # an answer can be fitted to its visible example only where the exercise has an answer cell: a check
    # of the whole notebook's pieces (04's short training run) fails for answers graded elsewhere
    answered = {exercise_of(grade_id(c)) for c in state.nb.cells if is_answer(c)}
    for index, cell in enumerate(state.nb.cells):
        gid = grade_id(cell)
        if is_grade_cell(cell) and gid in failed and index not in troubled and exercise_of(gid) in answered:
            report.flags.append(Flag(
                "passes_visible_only",
                f"'{gid}': the visible self-check passed but hidden checks failed (hard-coded answer?)", gid))
        elif is_grade_cell(cell) and gid in judged and gid not in failed and index in errored:
            report.flags.append(Flag(
                "fails_visible_only",
                f"'{gid}': the visible self-check raised but every hidden check passed (a case the hidden"
                " checks do not try?)", gid))


def _keep_self_checks(state: _State) -> None:
    """What each grade cell's visible self-check showed the student (its text outputs), kept for the
    report before the verdicts replace them: the instructor sees what the student saw, and tests check
    that the self-check and the grader name the same slip."""
    if state.nb is None or state.report.execution is None:
        return
    for cell in state.nb.cells:
        gid = grade_id(cell)
        if not is_grade_cell(cell) or gid is None:
            continue
        texts = []
        for out in cell.get("outputs", []):
            if out.get("output_type") == "stream":
                texts.append(str(out.get("text", "")))
            elif out.get("output_type") == "error":
                texts.append("\n".join(str(line) for line in out.get("traceback", [])))
        state.report.self_checks[gid] = _ANSI.sub("", "".join(texts))[-_SELF_CHECK_CHARS:]


_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
_SELF_CHECK_CHARS = 4000


def _record(state: _State) -> None:
    assert state.nb is not None
    state.report.cell_scores = record(state.nb, state.report.results)
    state.report.notebook = state.nb
    # nothing the student wrote may run in the instructor's browser (the formgrader shows this notebook)
    removed = strip_active_content(state.nb)
    if removed:
        state.report.flags.append(Flag("active_content", "removed from the graded notebook: "
                                       + "; ".join(removed[:5])))


STEPS: tuple[Callable[[_State], None], ...] = (
    _read, _restore, _audit, _execute_and_judge, _keep_self_checks, _record,
)


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
    wall = time.perf_counter()
    timings: dict[str, float] = {"startup_s": _process_age_s()}  # interpreter start and imports
    _exit_cleanly_on_sigterm()
    limits = request.limits or request.course.limits
    deadline = time.monotonic() + limits.grade_timeout_s
    sweep_stale()  # what graders killed earlier (SIGKILL) left behind: only ours, only dead owners
    timings["sweep_s"] = time.perf_counter() - wall
    if request.sandbox:
        with tempfile.TemporaryDirectory(prefix=host_name("probe")) as tmp:
            problem = probe_sandbox(Path(tmp))
        if problem is not None:
            raise GradingError(
                f"the sandbox does not work here ({problem}); refusing to run student code without it."
                " Install bubblewrap and grade as root, or as a user granted the pt2jax cgroup folders"
                " (docs/deploy.md, what a deployment must grant); or pass --unsandboxed to accept the risk."
            )
    timings["sandbox_probe_s"] = time.perf_counter() - wall - timings["sweep_s"]
    master = nbformat.read(master_path, as_version=4)
    report = GradeReport(request.assignment, request.seed, request.student_id)
    report.timings.update(timings)
    state = _State(request, report, master, deadline=deadline)
    for step in STEPS:
        start = time.perf_counter()
        step(state)
        if step is not _execute_and_judge:
            key = f"{step.__name__.lstrip('_')}_s"
            report.timings[key] = report.timings.get(key, 0.0) + time.perf_counter() - start
    _add_up(report.timings, time.perf_counter() - wall)
    return report


# The phases of `timings` that add up to the wall time of one `pt2jax grade` (probes_s is part of
# checks_s: the checks wait for their probes; fresh_s, the fresh-process calls, is part of probes_s).
PHASES = ("startup_s", "sweep_s", "sandbox_probe_s", "read_s", "restore_s", "audit_s", "kernel_start_s",
          "notebook_s", "checks_s", "kernel_shutdown_s", "cleanup_s", "other_s")


def _add_up(timings: dict[str, float], in_process_s: float) -> None:
    """Close the breakdown: what no phase measured becomes ``other_s``; ``total_s`` is the wall time
    since the interpreter started (what an instructor's clock shows for one `pt2jax grade`)."""
    parts = {k: v for k, v in timings.items() if k.endswith("_s") and k not in ("probes_s", "fresh_s", "total_s")}
    known = sum(float(v) for v in parts.values())
    total = timings.get("startup_s", 0.0) + in_process_s
    timings["other_s"] = max(total - known, 0.0)
    timings["total_s"] = total


def _process_age_s() -> float:
    """Seconds since this process started (its imports included), from /proc; 0 where unknown."""
    try:
        ticks = os.sysconf("SC_CLK_TCK")
        start = int(Path("/proc/self/stat").read_text().rsplit(")", 1)[1].split()[19]) / ticks
        uptime = float(Path("/proc/uptime").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 0.0
    return max(uptime - start, 0.0)


def _exit_cleanly_on_sigterm() -> None:
    """SIGTERM (a batch stopped, nbgrader's timeout before its SIGKILL) unwinds like an exception, so
    the kernel, the sandbox's cgroups and the scratch folder are removed on the way out."""
    import threading

    if threading.current_thread() is not threading.main_thread():
        return
    if signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
        signal.signal(signal.SIGTERM, _raise_exit)


def _raise_exit(signum: int, _frame: Any) -> None:
    raise SystemExit(128 + signum)

