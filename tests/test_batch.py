"""Class-scale grading on Dask (issue 16) on the tiny course, with real parts: a `dask scheduler` and
`dask worker` processes on loopback, nbgrader's gradebook written by the client alone, compared with a
serial `nbgrader autograde` of the same class; workers and the client killed mid-batch."""

from __future__ import annotations

import csv
import json
import os
import queue
import shutil
import signal
import subprocess
import sys
import tarfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from io import BytesIO
from operator import attrgetter
from pathlib import Path
from typing import Any

import pytest
from conftest import REPO, TINY, make_course, with_answers

from pt2jax.build import build_assignment
from pt2jax.config import CourseDir
from pt2jax.course.batch import DONE_MARK, WRITE_EVERY, BatchStats, autograde, submitted_students
from pt2jax.course.bundle import bundle_digest, make_bundle
from pt2jax.course.cluster import shared
from pt2jax.course.gradebook import post_flags
from pt2jax.course.nbconfig import db_url
from pt2jax.course.plots import difficulty_chart, grade_histogram
from pt2jax.course.reports import all_flags, class_report
from pt2jax.course.stats import exercise_stats, flagged
from pt2jax.course.submissions import normalize_submission, scan_submitted, set_aside_unreadable
from pt2jax.course.synthetic import HOSTILE_CELLS, synthetic_class
from pt2jax.course.workflow import export
from pt2jax.nbgrader_cmd import run_nbgrader

SECRET = "test-secret-of-the-tiny-class\n"
DASK = Path(sys.executable).parent / "dask"


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> CourseDir:
    """The tiny course, built once for this module (each class is a copy)."""
    course = make_course(tmp_path_factory.mktemp("built") / "course")
    build_assignment(course, TINY, verify=False)
    return course


def _tiny_class(built: CourseDir, dest: Path, students: dict[str, str], config: str = "") -> Path:
    """A copy of the built tiny course with ``students`` (name → kind: solution, stub, near_miss,
    unreadable); ``config`` is added to its nbgrader_config.py."""
    shutil.copytree(built.root, dest)
    course = CourseDir(dest)
    root = course.root
    if config:
        with (root / "nbgrader_config.py").open("a") as fh:
            fh.write("\n" + config + "\n")
    (root / ".pt2jax_secret").write_text(SECRET)  # the same grade-time inputs in every copy
    run_nbgrader(root, "generate_assignment", TINY, "--force")
    solution = course.solutions / TINY / f"{TINY}.ipynb"
    for student, kind in students.items():
        folder = root / "submitted" / student / TINY
        folder.mkdir(parents=True)
        target = folder / f"{TINY}.ipynb"
        if kind == "solution":
            shutil.copy(solution, target)
        elif kind == "stub":
            shutil.copy(course.release / TINY / f"{TINY}.ipynb", target)
        elif kind == "near_miss":
            with_answers(solution, {"ex01_add_one": "def add_one(x):\n    return x + 1.0001\n"}, target)
        elif kind == "unreadable":
            target.write_text('{"cells": [ not json')
        (folder / "timestamp.txt").write_text("2026-11-20 12:00:00.000000 UTC\n")
    return root


CLASS = {"alice": "solution", "carol": "unreadable", "erin": "near_miss"}


def _serial_autograde(root: Path) -> None:
    """The reference: plain `nbgrader autograde` one student after another (PipelineGrade grading in
    nbgrader's process, no Dask), with pt2jax's flags posted as the serial batch always did."""
    for student in submitted_students(root, TINY):
        set_aside_unreadable(root, TINY, student)
        scan_submitted(root, TINY, student)
        proc = run_nbgrader(root, "autograde", TINY, "--student", student, "--force", check=False)
        if proc.returncode != 0 and normalize_submission(root, TINY, student):
            proc = run_nbgrader(root, "autograde", TINY, "--student", student, "--force", check=False)
        assert proc.returncode == 0, proc.stderr[-2000:]
        post_flags(root, TINY, student, all_flags(root, TINY, student))


def _gradebook_state(root: Path) -> dict[str, Any]:
    """Everything nbgrader's gradebook holds about each submission that grading writes."""
    from nbgrader.api import Gradebook

    state: dict[str, Any] = {}
    with Gradebook(db_url(root)) as gb:
        for student in sorted(s.id for s in gb.students):
            sub = gb.find_submission_notebook(TINY, TINY, student)
            state[student] = {
                "grades": sorted((g.name, g.auto_score, g.manual_score, g.needs_manual_grade, g.score)
                                 for g in sub.grades),
                "comments": sorted((c.name, c.auto_comment, c.manual_comment) for c in sub.comments),
            }
    return state


@dataclass
class Cluster:
    address: str
    workers: list[subprocess.Popen[bytes]]
    logs: list[Path]

    def graded_per_worker(self) -> list[list[str]]:
        """The students each worker started grading (its `pt2jax: grading <student>/<a>` lines), in order."""
        return [[line.split("pt2jax: grading ", 1)[1].split("/")[0]
                 for line in log.read_text().splitlines() if "pt2jax: grading " in line]
                for log in self.logs]

    def grading_lines(self, since: list[int] | None = None) -> list[str]:
        """The students the workers started grading (after ``since``: counts per worker)."""
        per = self.graded_per_worker()
        return [s for i, lines in enumerate(per) for s in lines[(since[i] if since else 0):]]


@contextmanager
def dask_cluster(tmp: Path, n: int = 2) -> Iterator[Cluster]:
    """A real `dask scheduler` and ``n`` `dask worker` processes (one thread each, no nanny, so a
    killed worker stays dead) on loopback, stopped on the way out."""
    tmp.mkdir(parents=True, exist_ok=True)
    info = tmp / "scheduler.json"
    procs: list[subprocess.Popen[bytes]] = []
    with (tmp / "scheduler.log").open("wb") as slog:
        procs.append(subprocess.Popen([DASK, "scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
                                       "--scheduler-file", str(info)], stdout=slog, stderr=slog,
                                      start_new_session=True))
    try:
        deadline = time.monotonic() + 60
        while not info.exists() and time.monotonic() < deadline:
            time.sleep(0.2)
        address = json.loads(info.read_text())["address"]
        logs = [tmp / f"worker{i}.log" for i in range(n)]
        workers = []
        for i, log in enumerate(logs):
            with log.open("wb") as fh:
                workers.append(subprocess.Popen(
                    [DASK, "worker", address, "--nthreads", "1", "--no-nanny", "--no-dashboard",
                     "--memory-limit", "0", "--host", "127.0.0.1", "--name", f"w{i}"],
                    stdout=fh, stderr=fh, start_new_session=True))
        procs += workers
        from distributed import Client

        with Client(address, timeout=60) as client:
            client.wait_for_workers(n, timeout=120)
        yield Cluster(address, workers, logs)
    finally:  # nothing of theirs is kept: no graceful shutdown to wait for
        for proc in reversed(procs):
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def test_a_bundle_holds_what_grading_reads_and_nothing_else(built: CourseDir, tmp_path: Path) -> None:
    root = tmp_path / "course"
    shutil.copytree(built.root, root)
    (root / "submitted" / "alice" / TINY).mkdir(parents=True)
    shutil.copy(built.solutions / TINY / f"{TINY}.ipynb", root / "submitted" / "alice" / TINY)
    (root / "gradebook.db").write_text("not for workers")
    (root / ".pt2jax_secret").write_text(SECRET)
    bundle = make_bundle(root, TINY)
    with tarfile.open(fileobj=BytesIO(bundle.data), mode="r:gz") as tar:
        names = sorted(tar.getnames())
        limits = tar.extractfile("pyproject.toml").read().decode()  # type: ignore[union-attr]
    assert names == sorted(["pyproject.toml", f"autograder/{TINY}/test_tiny.py",
                            *(f"release/{TINY}/{p.name}" for p in (root / "release" / TINY).iterdir())])
    assert limits.startswith("[tool.pt2jax]\n") and "grade_timeout_s" in limits and "[project]" not in limits
    assert SECRET.strip() not in bundle.data.decode("latin-1")
    assert make_bundle(root, TINY).data == bundle.data  # deterministic: same files, same bytes
    # the solution's compilation cache travels beside the files, without changing what names a result
    cache = root / "cache"
    (cache / "sub").mkdir(parents=True)
    (cache / "jit_add-1-cache").write_bytes(b"\x00compiled")
    (cache / "sub" / "entry").write_bytes(b"more")
    with_cache = make_bundle(root, TINY, cache)
    assert with_cache.digest == bundle.digest and with_cache.data == bundle.data and not bundle.cache
    with tarfile.open(fileobj=BytesIO(with_cache.cache), mode="r:gz") as tar:
        assert {n: tar.extractfile(n).read() for n in tar.getnames()} == {  # type: ignore[union-attr]
            "jit_add-1-cache": b"\x00compiled", "sub/entry": b"more"}
    assert with_cache.cache_digest and make_bundle(root, TINY, cache).cache == with_cache.cache
    check = root / "autograder" / TINY / "test_tiny.py"
    before = bundle.digest
    check.write_text(check.read_text() + "\n# changed\n")
    try:
        assert bundle_digest(root, TINY) != before  # a changed check never reuses an old result
    finally:
        check.write_text(check.read_text().removesuffix("\n# changed\n"))
    assert bundle_digest(root, TINY) == before


@pytest.fixture(scope="module")
def serial_reference(built: CourseDir, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    root = _tiny_class(built, tmp_path_factory.mktemp("serial") / "course", CLASS)
    _serial_autograde(root)
    return {"gradebook": _gradebook_state(root), "table": class_report(root, TINY).rows}


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    with dask_cluster(tmp_path_factory.mktemp("dask")) as running:
        yield running


@pytest.fixture(scope="module")
def parallel(built: CourseDir, cluster: Cluster, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The class graded on the external scheduler's two workers."""
    root = _tiny_class(built, tmp_path_factory.mktemp("parallel") / "course", CLASS)
    stats = BatchStats()
    start = time.perf_counter()
    autograde(root, TINY, scheduler=cluster.address, progress=False, stats=stats)
    wall = time.perf_counter() - start
    print(f"\n{len(CLASS)} submissions on 2 external workers: {wall:.1f} s")
    return {"root": root, "stats": stats, "lines": cluster.grading_lines(), "per_worker": cluster.graded_per_worker()}


def test_graded_on_an_external_scheduler_equals_a_serial_nbgrader_run(
        parallel: dict[str, Any], serial_reference: dict[str, Any]) -> None:
    root, stats = parallel["root"], parallel["stats"]
    assert sorted(stats.graded) == sorted(CLASS)
    assert stats.sent == len(CLASS) and stats.graded_here == [] and stats.failed == []
    assert sorted(parallel["lines"]) == sorted(CLASS)  # each graded once, on the workers
    assert all(parallel["per_worker"]), "both workers graded"
    assert _gradebook_state(root) == serial_reference["gradebook"]
    assert class_report(root, TINY).rows == serial_reference["table"]
    assert not list((root / "reports" / TINY / ".spool").glob("*.json"))  # written, then dropped


def test_reports_instructors_use(parallel: dict[str, Any], tmp_path: Path) -> None:
    root = parallel["root"]
    report = class_report(root, TINY)
    stats = {s.grade_id: s for s in exercise_stats(root, report)}
    assert list(stats) == ["ex01_add_one_check", "ex02_int_range_check"]
    assert stats["ex01_add_one_check"].full_share == pytest.approx(1 / 3)  # alice only
    assert stats["ex02_int_range_check"].mean == pytest.approx(4 / 3)  # alice and erin 2/2, carol 0
    # the tiny checks give no misconception hints: the commonest first line of feedback stands in
    assert stats["ex01_add_one_check"].hint_count == 1
    assert stats["ex01_add_one_check"].common_hint in ("The result is not what was expected.",
                                                       "`add_one(...)` is not answered yet: it still raises"
                                                       " NotImplementedError.")
    # the plots: a grade histogram and the per-exercise difficulty chart, hardest first
    import matplotlib.image

    hist = grade_histogram(report, tmp_path / "grades.png")
    chart = difficulty_chart(TINY, list(stats.values()), tmp_path / "difficulty.png")
    for png in (hist, chart):
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert matplotlib.image.imread(png).shape[0] > 100
    one = difficulty_chart(TINY, [stats["ex01_add_one_check"]], tmp_path / "one.png")
    assert matplotlib.image.imread(chart).shape[0] > matplotlib.image.imread(one).shape[0]  # a bar per exercise
    review = flagged(root, report)
    assert [s for s, _ in review] == ["carol"]
    assert review[0][1][0][0] == "invalid_notebook"
    # nbgrader's own command runs pt2jax's exporter plugins
    canvas = tmp_path / "canvas.csv"
    run_nbgrader(root, "export", "--exporter", "pt2jax.course.export.CanvasExportPlugin", "--to", str(canvas))
    rows = list(csv.reader(canvas.read_text().splitlines()))
    assert rows[0] == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", TINY]
    assert rows[1] == ["Points Possible", "", "", "", "", "3"]
    assert {r[3]: r[5] for r in rows[2:]} == {"alice": "3", "carol": "0", "erin": "2"}
    per_cell = export(root, tmp_path / "exercises.csv", "exercises")
    lines = list(csv.reader(per_cell.read_text().splitlines()))
    assert lines[0] == ["assignment", "student_id", "ex01_add_one_check", "ex02_int_range_check", "score",
                        "max_score"]
    assert [TINY, "erin", "0", "2", "2", "3"] in lines


def test_a_manual_override_survives_a_regrade_on_the_cluster(parallel: dict[str, Any], cluster: Cluster) -> None:
    from nbgrader.api import Gradebook

    root = parallel["root"]
    with Gradebook(db_url(root)) as gb:
        gb.find_grade("ex02_int_range_check", TINY, TINY, "alice").manual_score = 0.5
        gb.db.commit()
    assert autograde(root, TINY, scheduler=cluster.address, progress=False) == []  # all marked
    (root / "autograded" / "alice" / TINY / DONE_MARK).unlink()
    assert autograde(root, TINY, scheduler=cluster.address, progress=False) == ["alice"]
    with Gradebook(db_url(root)) as gb:
        grade = gb.find_grade("ex02_int_range_check", TINY, TINY, "alice")
        assert (grade.manual_score, grade.auto_score, grade.score) == (0.5, 2.0, 0.5)


def test_a_synthetic_class_mixes_every_kind(built: CourseDir) -> None:
    students = synthetic_class(built, TINY, 40, seed=1)
    assert synthetic_class(built, TINY, 40, seed=1) == students  # deterministic
    kinds = Counter(kind for kind, _ in students.values())
    assert set(kinds) == {"full", "partial", "broken", "hostile"}  # no variants file for 00_tiny: no "wrong"
    for kind, text in students.values():
        if kind == "full":
            assert text == students[next(s for s, (k, _) in students.items() if k == "full")][1]
        if kind == "hostile":
            assert any(cell in text for cell in map(json.dumps, HOSTILE_CELLS.values()))
    repo_course = CourseDir(REPO)
    wrong = synthetic_class(repo_course, "01_arrays", 40, seed=1)
    assert "wrong" in Counter(k for k, _ in wrong.values())


def _pending(root: Path, students: list[str]) -> list[str]:
    return [s for s in students if not (root / "autograded" / s / TINY / DONE_MARK).exists()]


@pytest.mark.slow
def test_a_machine_that_cannot_sandbox_records_no_grade(built: CourseDir, tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """No bubblewrap on the grading machine: pt2jax grade refuses, and the batch records no zero for
    it; the student stays unmarked and the next run on a working machine grades them."""
    root = _tiny_class(built, tmp_path / "course", {"alice": "solution"})
    monkeypatch.setenv("PATH", str(Path(sys.executable).parent))  # no bwrap, no setpriv
    stats = BatchStats()
    assert autograde(root, TINY, workers=1, progress=False, stats=stats, compile_cache=None) == []
    assert stats.failed == ["alice"] and _pending(root, ["alice"]) == ["alice"]
    assert "the grader cannot run on this machine" in (root / "reports" / TINY / "alice.nbgrader.log").read_text()
    assert not list((root / "reports" / TINY / ".spool").glob("*"))  # nothing kept to be reused
    assert not (root / "reports" / TINY / "alice.normalized").exists()  # the notebook was fine
    monkeypatch.undo()
    assert autograde(root, TINY, workers=1, progress=False, compile_cache=None) == ["alice"]
    totals = {s: sum(got for got, _ in scores.values()) for s, scores, _ in class_report(root, TINY).rows}
    assert totals == {"alice": 3}


@pytest.mark.slow
def test_a_grade_the_cluster_lost_records_nothing_and_is_graded_by_the_next_run(built: CourseDir,
                                                                              tmp_path: Path) -> None:
    """A grade's future cancelled on the cluster (its data lost, the scheduler gone): not the
    submission's doing, so no zero is written; the student stays unmarked and the next run grades them."""
    from distributed import Client, LocalCluster

    from pt2jax.course.batch import _keep, _prepare
    from pt2jax.course.bundle import GRADE_LOST
    from pt2jax.course.spool import Spool
    from pt2jax.grade.seeding import base_seed, course_secret

    root = _tiny_class(built, tmp_path / "course", {"alice": "solution"})
    spool = Spool(root, TINY)
    ((key, _),) = _prepare(root, TINY, "alice", bundle_digest(root, TINY), base_seed(course_secret(root)))
    arrived: queue.Queue[str] = queue.Queue()
    with LocalCluster(n_workers=1, processes=False, dashboard_address=None) as cluster, Client(cluster) as client:
        fut = client.submit(time.sleep, 60, pure=False)
        fut.cancel()
        _keep(spool, key, "alice", arrived)(fut)  # the batch's done-callback, on a real cancelled future
    assert arrived.get_nowait() == f"alice\0{key}" and spool.get(key).problem.startswith(GRADE_LOST)
    stats = BatchStats()
    assert autograde(root, TINY, workers=1, progress=False, stats=stats, compile_cache=None) == []
    assert stats.failed == ["alice"] and _pending(root, ["alice"]) == ["alice"]
    assert GRADE_LOST in (root / "reports" / TINY / "alice.nbgrader.log").read_text()
    assert not spool.has(key) and stats.graded_here == []
    # the notebook was fine: it is not "normalized" (rewritten, with a note to the student)
    assert not (root / "reports" / TINY / "alice.normalized").exists()
    assert autograde(root, TINY, workers=1, progress=False, compile_cache=None) == ["alice"]
    totals = {s: sum(got for got, _ in scores.values()) for s, scores, _ in class_report(root, TINY).rows}
    assert totals == {"alice": 3}


@pytest.mark.slow
def test_a_worker_killed_mid_grade_costs_a_retry_of_that_submission_only(built: CourseDir, tmp_path: Path) -> None:
    students = {f"s{i}": "solution" for i in range(4)}
    root = _tiny_class(built, tmp_path / "course", students)
    with dask_cluster(tmp_path / "dask") as cluster:
        stats = BatchStats()
        run = threading.Thread(target=autograde, args=(root, TINY),
                               kwargs={"scheduler": cluster.address, "progress": False, "stats": stats})
        run.start()
        victim, deadline = None, time.monotonic() + 300
        while victim is None and time.monotonic() < deadline:
            for worker, log in zip(cluster.workers, cluster.logs, strict=True):
                text = log.read_text()
                if text.count("pt2jax: grading") > text.count("pt2jax: graded "):
                    victim = (worker, text.rsplit("pt2jax: grading ", 1)[1].split("/")[0])
                    break
            time.sleep(0.2)
        assert victim is not None
        os.killpg(victim[0].pid, signal.SIGKILL)  # mid-grade
        run.join(timeout=600)
        assert not run.is_alive()
        lines = cluster.grading_lines()
    assert sorted(stats.graded) == sorted(students) and stats.graded_here == []
    # the submission that was being graded ran again, on the other worker; nothing else did
    assert sorted(lines) == sorted([*students, victim[1]])
    rows = {s: scores for s, scores, _ in class_report(root, TINY).rows}
    assert {s: sum(v[0] for v in rows[s].values()) for s in students} == {s: 3.0 for s in students}


@pytest.mark.slow
def test_a_bundle_outlives_the_death_of_the_only_worker_holding_it(built: CourseDir, tmp_path: Path) -> None:
    """The worker with the bundle's only copy dies before any other fetched it: a grade asked of
    another worker still gets the bundle (with client.scatter it was cancelled, and so was the batch)."""
    from distributed import Client, wait

    bundle = make_bundle(built.root, TINY)
    with dask_cluster(tmp_path / "dask") as cluster, Client(cluster.address, timeout=60) as client:
        remote = shared(client, bundle, "bundle-test")
        wait(remote, timeout=120)
        deadline = time.monotonic() + 30  # one copy (scattered copies are trimmed to one within ~2 s)
        while len(client.who_has([remote])[remote.key]) != 1 and time.monotonic() < deadline:
            time.sleep(0.1)
        (holder,) = client.who_has([remote])[remote.key]
        names = {address: info["name"] for address, info in client.scheduler_info()["workers"].items()}
        victim = cluster.workers[int(str(names[holder]).removeprefix("w"))]
        os.killpg(victim.pid, signal.SIGKILL)
        victim.wait()
        (other,) = [address for address in names if address != holder]
        got = client.submit(attrgetter("digest"), remote, workers=[other], pure=False).result(timeout=120)
    assert got == bundle.digest


@pytest.mark.slow
def test_a_client_sigkilled_and_rerun_loses_doubles_and_regrades_nothing(built: CourseDir, tmp_path: Path) -> None:
    # more students than the writer takes in one nbgrader run (WRITE_EVERY): killed when the first
    # run is written, some are still pending (with fewer, the first write is the whole class)
    students = {f"s{i}": ("solution" if i % 2 else "near_miss") for i in range(WRITE_EVERY + 1)}
    root = _tiny_class(built, tmp_path / "course", students)
    with dask_cluster(tmp_path / "dask") as cluster:
        cmd = [sys.executable, "-m", "pt2jax", "--course", str(root), "autograde", TINY,
               "--scheduler", cluster.address]
        proc = subprocess.Popen(cmd, cwd=root, start_new_session=True,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 300
        while len(_pending(root, list(students))) == len(students) and time.monotonic() < deadline:
            time.sleep(0.1)
        os.killpg(proc.pid, signal.SIGKILL)  # the client: its nbgrader too
        proc.wait()
        pending = _pending(root, list(students))
        assert pending and len(pending) < len(students)
        marked = {s: (root / "autograded" / s / TINY / DONE_MARK).read_text()
                  for s in students if s not in pending}
        spooled = len(list((root / "reports" / TINY / ".spool").glob("*.json")))
        time.sleep(1)  # the cluster forgets the dead client's tasks
        before = [len(lines) for lines in cluster.graded_per_worker()]
        stats = BatchStats()
        assert sorted(autograde(root, TINY, scheduler=cluster.address, progress=False, stats=stats)) == pending
        again = cluster.grading_lines(since=before)
    assert not set(again) & set(marked), "a finished student was graded again"
    assert stats.from_spool == spooled and stats.sent == len(again) == len(pending) - spooled
    if spooled > 1:
        assert stats.batches[0] == spooled  # what was back already went in with one nbgrader run
    assert {s: (root / "autograded" / s / TINY / DONE_MARK).read_text() for s in marked} == marked
    rows = {s: scores for s, scores, _ in class_report(root, TINY).rows}
    assert sorted(rows) == sorted(students)
    want = {s: 3.0 if kind == "solution" else 2.0 for s, kind in students.items()}
    assert {s: sum(v[0] for v in rows[s].values()) for s in students} == want


@contextmanager
def postgres_server(port: int) -> Iterator[str]:
    """Debian's PostgreSQL 15 started as the unprivileged ``postgres`` user (the tests run as root) on
    a private socket folder and loopback ``port``, stopped and removed on the way out. Yields a URL."""
    import pwd
    import tempfile

    user = pwd.getpwnam("postgres")
    base = Path(tempfile.mkdtemp(prefix="pt2jax-pg-"))
    as_pg = ["setpriv", f"--reuid={user.pw_uid}", f"--regid={user.pw_gid}", "--init-groups", "--"]
    bindir = Path("/usr/lib/postgresql/15/bin")
    try:
        os.chown(base, user.pw_uid, user.pw_gid)
        data, sock = base / "data", base / "sock"
        subprocess.run([*as_pg, bindir / "initdb", "-D", data, "--auth=trust", "-U", "postgres"],
                       check=True, capture_output=True)
        sock.mkdir()
        os.chown(sock, user.pw_uid, user.pw_gid)
        subprocess.run([*as_pg, bindir / "pg_ctl", "-D", data, "-l", base / "server.log", "-w", "start",
                        "-o", f"-c listen_addresses=127.0.0.1 -p {port} -k {sock}"], check=True, capture_output=True)
        try:
            subprocess.run([*as_pg, bindir / "createdb", "-h", "127.0.0.1", "-p", str(port), "-U", "postgres",
                            "gradebook"], check=True, capture_output=True)
            yield f"postgresql+psycopg2://postgres@127.0.0.1:{port}/gradebook"  # the driver pinned in the lock
        finally:
            subprocess.run([*as_pg, bindir / "pg_ctl", "-D", data, "-w", "-m", "fast", "stop"],
                           check=True, capture_output=True)
    finally:
        shutil.rmtree(base, ignore_errors=True)


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.slow
def test_a_postgresql_gradebook_through_db_url_equals_the_serial_sqlite_run(
        built: CourseDir, tmp_path: Path, serial_reference: dict[str, Any]) -> None:
    with postgres_server(_free_port()) as url:
        root = _tiny_class(built, tmp_path / "course", CLASS, config=f"c.CourseDirectory.db_url = {url!r}")
        assert db_url(root) == url
        stats = BatchStats()
        autograde(root, TINY, workers=2, progress=False, stats=stats)  # on a LocalCluster this time
        assert sorted(stats.graded) == sorted(CLASS) and stats.graded_here == []
        assert not (root / "gradebook.db").exists()  # everything went to the server
        assert _gradebook_state(root) == serial_reference["gradebook"]
        assert class_report(root, TINY).rows == serial_reference["table"]
