"""Judge step: run the hidden pytest checks in the grader's process against probe data."""

from __future__ import annotations

import contextlib
import io
import queue
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from ..checks import MARKER
from ..errors import CheckFailed, GradingError
from ..results import CheckNote, CheckResult
from .probe import Options, Student, StudentBase
from .seeding import check_seed

__all__ = ["JudgeRun"]

_GRADER_ERROR_FEEDBACK = (
    "The grader could not finish this check (an internal error, not your fault);"
    " your instructor has been notified and will look at it."
)


class _JudgePlugin:
    def __init__(self, student: Student, seed: int, student_id: str, assignment: str) -> None:
        self._student = student
        self._seed = seed
        self._student_id = student_id
        self._assignment = assignment
        self.results: list[CheckResult] = []
        self.current_grade_id = ""  # of the check running now (its probes' time is counted for it)
        self._notes_before = 0  # check notes left before the check running now
        self.collect_errors: list[str] = []

    @pytest.fixture
    def student(self) -> Student:
        return self._student

    @pytest.fixture
    def rng(self, request: pytest.FixtureRequest) -> np.random.Generator:
        name = _check_name(request.node)
        return np.random.default_rng(
            check_seed(self._seed, self._student_id, self._assignment, name)
        )

    @pytest.fixture
    def shapes(self) -> Callable[[str], np.random.Generator]:
        """``shapes(key)``: a generator seeded per student and ``key`` only, the same in every check
        of this grade. Draw the sizes of one function's inputs from it (values from ``rng``), and the
        checks of that function share their shapes: JAX compiles the student's code once for them
        instead of once per check."""

        def draw(key: str) -> np.random.Generator:
            return np.random.default_rng(check_seed(self._seed, self._student_id, self._assignment, f"shapes:{key}"))

        return draw

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        if report.failed:
            self.collect_errors.append(f"{report.nodeid}: {report.longreprtext[-2000:]}")

    def pytest_runtest_setup(self, item: pytest.Item) -> None:
        marker = item.get_closest_marker(MARKER)
        self.current_grade_id = str(marker.kwargs.get("grade_id", "")) if marker is not None else ""
        self._notes_before = len(self._student.check_notes)

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_makereport(self, item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
        outcome = yield
        report = outcome.get_result()
        if report.when == "call" or (report.when == "setup" and report.failed):
            result = _verdict(item, call)
            self.results.append(result)
            # the notes this check left: its cell's, and their feedback shown under it
            notes = self._student.check_notes
            mine = [n if n.grade_id else CheckNote(n.kind, n.message, n.feedback, result.grade_id or None)
                    for n in notes[self._notes_before:]]
            notes[self._notes_before:] = mine
            result.note = "\n".join(n.feedback for n in mine if n.feedback)


def _check_name(item: Any) -> str:
    return f"{Path(str(item.path)).stem}::{item.name}"


def _verdict(item: pytest.Item, call: pytest.CallInfo[None]) -> CheckResult:
    marker = item.get_closest_marker(MARKER)
    doc = (getattr(item, "function", None).__doc__ or "").strip().splitlines()
    description = doc[0] if doc else item.name.removeprefix("test_").replace("_", " ")
    if marker is None:
        return CheckResult(_check_name(item), "", 0.0, 0.0, False, _GRADER_ERROR_FEEDBACK,
                           description, grader_error="check has no @check(grade_id, points)")
    grade_id, points = marker.kwargs["grade_id"], float(marker.kwargs["points"])
    result = CheckResult(_check_name(item), grade_id, 0.0, points, False, "", description)
    exc = call.excinfo.value if call.excinfo is not None else None
    if exc is None:
        result.points, result.passed = points, True
    elif isinstance(exc, CheckFailed):
        result.feedback, result.hints = exc.feedback, list(exc.hints)
    else:
        result.feedback = _GRADER_ERROR_FEEDBACK
        result.grader_error = f"{type(exc).__name__}: {exc}"[:2000]
    return result


_DONE = object()


class _Bridge(StudentBase):
    """The student the checks see. Its requests are carried out by the thread that owns the kernel
    (in :meth:`JudgeRun.results`), so only that thread ever talks to the kernel."""

    def __init__(self) -> None:
        self.requests: queue.Queue[Any] = queue.Queue()

    def request(
        self, op: str, name: str, args: tuple[Any, ...], kwargs: dict[str, Any], options: Options = None
    ) -> Any:
        answer: queue.Queue[tuple[bool, Any]] = queue.Queue(maxsize=1)
        self.requests.put((op, name, args, kwargs, options, answer))
        ok, reply = answer.get()
        if not ok:
            raise reply
        return reply


class JudgeRun:
    """The hidden checks of one notebook, run by pytest in a thread of the grader's process.

    pytest starts, collects the checks and computes references while the student's notebook still
    runs; each check waits at its first probe until :meth:`results` serves the live student.
    ``student`` is what the checks saw (its ``opaque_types`` and ``disagreements`` feed the flags).
    """

    def __init__(self, autograder_dir: Path, *, seed: int, student_id: str, assignment: str) -> None:
        if not autograder_dir.is_dir():
            raise GradingError(f"no hidden checks: {autograder_dir} is not a directory")
        self.student = _Bridge()
        self._plugin = _JudgePlugin(self.student, seed, student_id, assignment)
        self._dir = autograder_dir
        self._log = io.StringIO()
        self.probes = 0  # requests served, and the seconds the checks waited for them
        self.probe_seconds_by_grade: dict[str, float] = {}
        self.probe_seconds = 0.0
        self.fresh_seconds = 0.0  # of which fresh-process calls (grade/probe.fresh_cells)
        self._code: int | pytest.ExitCode | None = None
        self._crash: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="pt2jax-judge", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            with tempfile.TemporaryDirectory() as tmp:
                ini = Path(tmp) / "pytest.ini"
                ini.write_text(f"[pytest]\nmarkers =\n    {MARKER}: pt2jax hidden check\n")
                args = [
                    str(self._dir), "-c", str(ini), "--rootdir", str(self._dir),
                    "-p", "no:cacheprovider", "-p", "no:faulthandler", "-p", "no:timeout",
                    "--import-mode=importlib", "-q",
                    "-W", "ignore::DeprecationWarning", "-o", "python_files=test_*.py",
                ]
                with contextlib.redirect_stdout(self._log):
                    self._code = pytest.main(args, plugins=[self._plugin])
        except BaseException as exc:  # reported by results(), in the caller's thread
            self._crash = exc
        finally:
            self.student.requests.put(_DONE)

    def abandon(self, student: Student) -> None:
        """Let the checks finish against ``student`` in the background (grading stopped early)."""
        if self._thread.is_alive():
            threading.Thread(target=self._serve, args=(student,), daemon=True).start()

    def _serve(self, student: Any) -> None:
        while (item := self.student.requests.get()) is not _DONE:
            op, name, args, kwargs, options, answer = item
            start = time.perf_counter()
            try:
                answer.put((True, student.request(op, name, args, kwargs, options)))
            except Exception as exc:  # e.g. a replay without this request: the check's grader error
                answer.put((False, exc))
            self.probes += 1
            took = time.perf_counter() - start
            self.probe_seconds += took
            if op == "fresh":  # a fresh-process call reruns the notebook first: slow by design
                self.fresh_seconds += took
            else:
                gid = self._plugin.current_grade_id
                self.probe_seconds_by_grade[gid] = self.probe_seconds_by_grade.get(gid, 0.0) + took

    def results(self, student: Student) -> list[CheckResult]:
        """Serve the checks' probes with ``student`` until they are done; return the verdicts
        (raises GradingError if none ran)."""
        self._serve(student)
        self._thread.join()
        plugin, code = self._plugin, self._code
        if self._crash is not None:
            raise GradingError(f"the hidden checks crashed: {self._crash!r}")
        if plugin.collect_errors:
            raise GradingError("hidden checks failed to load:\n" + "\n".join(plugin.collect_errors))
        if code not in (pytest.ExitCode.OK, pytest.ExitCode.TESTS_FAILED) or not plugin.results:
            raise GradingError(f"hidden checks did not run (pytest exit {code}):\n{self._log.getvalue()[-3000:]}")
        return plugin.results

