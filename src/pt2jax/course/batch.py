"""Autograde a class: Dask workers grade the submissions in parallel, the instructor's process is the
one writer of nbgrader's gradebook, and the batch is resumable.

For each student still to grade (no completion marker), the client works out the exact notebook
nbgrader will hand to :class:`.nbgrader_plugin.PipelineGrade` (:func:`.nbconfig.sanitized_text`) and
sends its text, with the assignment's :mod:`.bundle`, to a worker. What comes back goes to the
:class:`.spool.Spool` at once; when all of a student's notebooks are back, the client runs ``nbgrader
autograde --student S`` itself (PipelineGrade takes the worker's grade for exactly these bytes instead
of grading again), posts the flags, and writes the marker last. So:

* one writer: workers never see the gradebook; the result is that of a serial ``nbgrader autograde``;
* a worker killed mid-grade: Dask runs that task again on another worker (that submission only);
* the client killed and rerun: marked students are skipped, results already in the spool are written
  without grading again, the rest is graded.
"""

from __future__ import annotations

import queue
import subprocess
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ..config import CourseDir
from ..grade.compile_cache import CompileCache, warm
from ..nbgrader_cmd import run_nbgrader
from .bundle import GRADE_LOST, NOT_GRADED, GradeOutcome, bundle_digest, grade_on_worker, make_bundle, submission_key
from .gradebook import post_flags
from .nbconfig import sanitized_text
from .nbgrader_plugin import CANNOT_GRADE, GRADED_HERE
from .reports import all_flags
from .spool import Spool
from .submissions import normalize_submission, scan_submitted, set_aside_unreadable, submitted_notebooks

__all__ = ["DONE_MARK", "WARM", "BatchStats", "autograde", "submitted_students"]

DONE_MARK = ".pt2jax-done"
WRITE_EVERY = 8  # students the one writer waits for before an nbgrader run (or WRITE_WAIT_S, or the last)
WRITE_WAIT_S = 60.0
WARM = "warm"  # autograde(compile_cache=WARM): the course's cache, warmed by the solution when cold


def submitted_students(root: Path, assignment: str) -> list[str]:
    sub = root / "submitted"
    return sorted(p.parent.name for p in sub.glob(f"*/{assignment}") if p.is_dir())


@dataclass
class BatchStats:
    """What one run of :func:`autograde` did."""

    graded: list[str] = field(default_factory=list)  # students written to the gradebook and marked
    sent: int = 0  # notebooks sent to workers
    from_spool: int = 0  # notebooks whose grade was already back from an earlier (killed) run
    graded_here: list[str] = field(default_factory=list)  # students nbgrader graded itself (no worker result)
    failed: list[str] = field(default_factory=list)  # students nbgrader could not autograde
    write_s: float = 0.0  # seconds the one writer spent (nbgrader autograde + flags per student)
    batches: list[int] = field(default_factory=list)  # students per nbgrader run of the writer


def autograde(root: Path, assignment: str, *, force: bool = False, progress: bool = True,
              workers: int | None = None, scheduler: str | None = None,
              stats: BatchStats | None = None, compile_cache: CompileCache | str | None = WARM) -> list[str]:
    """Autograde every submission of ``assignment`` on Dask (a LocalCluster of ``workers`` processes,
    default one per core, or the scheduler at address ``scheduler``); the gradebook is written here.

    Every sandbox reads ``compile_cache`` (read-only): by default (:data:`WARM`) the course's cache
    of the assignment, warmed first by grading the solution if it is not warm yet
    (:func:`pt2jax.grade.compile_cache.warm`); None grades without one.

    A student whose marker exists is skipped unless ``force``. Returns the students graded in this run
    (sorted; ``stats.graded`` has them in the order they were written); ``stats``, when given, is filled in.
    """
    from tqdm import tqdm

    from ..grade.seeding import base_seed, course_secret
    from .cluster import grading_client, shared

    root = root.resolve()
    stats = stats if stats is not None else BatchStats()
    todo = [s for s in submitted_students(root, assignment) if force or not _marker(root, assignment, s).exists()]
    if not todo:
        return sorted(stats.graded)
    spool = Spool(root, assignment)
    seed = base_seed(course_secret(root))
    digest = bundle_digest(root, assignment)
    jobs = {s: _prepare(root, assignment, s, digest, seed) for s in todo}
    to_send = {s: [(k, t) for k, t in js if not spool.has(k)] for s, js in jobs.items()}
    stats.from_spool = sum(len(js) for js in jobs.values()) - sum(len(js) for js in to_send.values())
    arrived: queue.Queue[str] = queue.Queue()
    outstanding = {s: {k for k, _ in js} for s, js in to_send.items()}
    label = f"autograde {assignment}"
    with tqdm(total=len(todo), desc=label, unit="student", disable=not progress) as bar:

        def write(students: list[str]) -> None:
            start = time.perf_counter()
            _write_batch(root, assignment, {s: [k for k, _ in jobs[s]] for s in students}, spool, stats)
            stats.write_s += time.perf_counter() - start
            bar.set_postfix(written=len(stats.graded) + len(stats.failed), refresh=False)

        ready = [s for s in todo if not outstanding[s]]
        if ready:
            bar.update(len(ready))
            write(ready)
        if len(ready) == len(todo):
            return sorted(stats.graded)
        with grading_client(workers, scheduler) as client:
            if compile_cache == WARM:
                bar.set_description(f"{label} (warming the compilation cache with the solution)")
                compile_cache = warm(CourseDir(root), assignment, seed)
            cache = compile_cache.path if isinstance(compile_cache, CompileCache) else None
            remote = shared(client, make_bundle(root, assignment, cache), f"bundle-{digest[:16]}")
            bar.set_description(f"{label} ({len(client.scheduler_info()['workers'])} workers)")
            futures = []
            for student, js in to_send.items():
                for key, text in js:
                    fut = client.submit(grade_on_worker, remote, student, text, seed,
                                        key=f"pt2jax-grade-{student}-{key[:16]}", pure=False)
                    fut.add_done_callback(_keep(spool, key, student, arrived))
                    futures.append(fut)
                    stats.sent += 1
            left = sum(1 for s in todo if outstanding[s])  # students still to write
            back: list[str] = []  # students whose grades are all in the spool, not yet written
            since = 0.0  # when the oldest of them came back
            while left:
                # the writer competes with the workers for the CPU and nbgrader's start costs ~2 s a
                # run: students are written together, once WRITE_EVERY are back, the last are back, or
                # the oldest has waited WRITE_WAIT_S (their grades are safe in the spool meanwhile)
                try:
                    items = [arrived.get(timeout=WRITE_WAIT_S if back else None)]
                except queue.Empty:
                    items = []
                while not arrived.empty():
                    items.append(arrived.get_nowait())
                for item in items:
                    student, _, key = item.partition("\0")
                    if outstanding[student]:
                        outstanding[student].discard(key)
                        if not outstanding[student]:
                            since = since if back else time.monotonic()
                            back.append(student)
                            bar.update(1)
                if back and (len(back) >= WRITE_EVERY or len(back) == left
                             or time.monotonic() - since >= WRITE_WAIT_S):
                    write(back)
                    left -= len(back)
                    back = []
            del futures
    return sorted(stats.graded)


def _keep(spool: Spool, key: str, student: str, arrived: queue.Queue[str]) -> Any:
    """A done-callback (it runs in the client's thread for callbacks): the outcome goes to the spool
    the moment it arrives, and the future is released, so no worker keeps it (a worker dying later
    cannot make Dask grade it again)."""

    def done(fut: Any) -> None:
        try:
            outcome = fut.result()
        except Exception as exc:
            # KilledWorker: its workers died every time it ran, the submission's doing; anything else
            # (cancelled, the scheduler gone, ...) records nothing and the next run grades it
            why = "grading was lost on the cluster" if type(exc).__name__ == "KilledWorker" else GRADE_LOST
            outcome = GradeOutcome(None, None, f"{why}: {type(exc).__name__}: {exc}")
        try:
            spool.put(key, outcome)
        finally:
            fut.release()
            arrived.put(f"{student}\0{key}")

    return done


def _marker(root: Path, assignment: str, student: str) -> Path:
    return root / "autograded" / student / assignment / DONE_MARK


def _prepare(root: Path, assignment: str, student: str, digest: str, seed: int) -> list[tuple[str, str]]:
    """(key, notebook text) of each notebook nbgrader will grade for ``student``: unreadable files set
    aside, flags of the notebook as submitted recorded, and a notebook nbgrader would refuse normalized
    (as the serial batch did when nbgrader failed on it)."""
    set_aside_unreadable(root, assignment, student)
    scan_submitted(root, assignment, student)
    for attempt in (0, 1):
        jobs = []
        try:
            for path, _, _ in submitted_notebooks(root, assignment, student):
                text = sanitized_text(root, assignment, student, path)
                jobs.append((submission_key(digest, seed, assignment, student, text), text))
            return jobs
        except Exception:
            if attempt or not normalize_submission(root, assignment, student):
                return []  # nbgrader will say why in the student's log
    return []


def _write_batch(root: Path, assignment: str, keys: dict[str, list[str]], spool: Spool, stats: BatchStats) -> None:
    """Write several students whose grades are all back with one `nbgrader autograde` run (the others
    excluded): nbgrader's start (seconds) is paid once per batch, not per student. nbgrader removes
    the autograded folder of a student it failed on; those go through :func:`_write` one by one."""
    students = list(keys)
    stats.batches.append(len(students))
    others = [s for s in submitted_students(root, assignment) if s not in keys]
    if len(students) == 1 or any("," in s for s in others):
        for student in students:
            _write(root, assignment, student, keys[student], spool, stats)
        return
    for student in students:
        _marker(root, assignment, student).unlink(missing_ok=True)
    proc = run_nbgrader(root, "autograde", assignment, "--force",
                        f"--CourseDirectory.student_id_exclude={','.join(others)}", check=False)
    text = proc.stdout + proc.stderr
    for student in students:
        log = CourseDir(root).report_file(assignment, student, ".nbgrader.log")
        log.parent.mkdir(parents=True, exist_ok=True)
        log.write_text(text)  # the batch's log: nbgrader names the student on each of its lines
        if not (root / "autograded" / student / assignment).is_dir():
            if _not_graded(text, student, assignment):
                stats.failed.append(student)  # nothing recorded, unmarked: the next run grades them
            else:
                _write(root, assignment, student, keys[student], spool, stats)
            continue
        if f"{GRADED_HERE} ({student}/{assignment})" in text:
            stats.graded_here.append(student)
        _finish(root, assignment, student, keys[student], spool, stats)


def _finish(root: Path, assignment: str, student: str, keys: list[str], spool: Spool, stats: BatchStats) -> None:
    """The gradebook has the student's scores: the flags, then the marker, then the spool entries go."""
    post_flags(root, assignment, student, all_flags(root, assignment, student))
    # the marker is written last: only now does this submission count as graded
    _marker(root, assignment, student).write_text(datetime.now(UTC).isoformat() + "\n")
    stats.graded.append(student)
    for key in keys:
        spool.drop(key)


def _write(root: Path, assignment: str, student: str, keys: list[str], spool: Spool, stats: BatchStats) -> None:
    """The one writer: nbgrader puts the (already graded) notebooks into the gradebook, then the flags,
    then the marker."""
    done = _marker(root, assignment, student)
    done.unlink(missing_ok=True)  # a regrade (--force) killed midway must not look finished
    log = CourseDir(root).report_file(assignment, student, ".nbgrader.log")
    log.parent.mkdir(parents=True, exist_ok=True)
    log.write_text("")
    proc = _nbgrader_autograde(root, assignment, student, log)
    if (proc.returncode != 0 and not _not_graded(log.read_text(), student, assignment)
            and normalize_submission(root, assignment, student)):
        proc = _nbgrader_autograde(root, assignment, student, log)
    if GRADED_HERE in log.read_text():
        stats.graded_here.append(student)
    if proc.returncode == 0 and done.parent.is_dir():
        _finish(root, assignment, student, keys, spool, stats)
    else:
        stats.failed.append(student)
        from tqdm import tqdm

        tqdm.write(f"  {student}: nbgrader could not autograde this submission (see {log})")


def _not_graded(log: str, student: str, assignment: str) -> bool:
    """Whether nbgrader failed ``student`` because no grade came back (not the submission's doing:
    the sandbox would not start on the worker, the cluster lost the task). Then nothing is normalized
    or regraded here: the student stays unmarked and the next run grades them."""
    return any(f"{CANNOT_GRADE} {student}/{assignment}: {why}" in log for why in NOT_GRADED)


def _nbgrader_autograde(root: Path, assignment: str, student: str, log: Path) -> subprocess.CompletedProcess[str]:
    proc = run_nbgrader(root, "autograde", assignment, "--student", student, "--force", check=False)
    with log.open("a") as fh:
        fh.write(proc.stdout + proc.stderr)
    return proc
