"""Class-scale grading throughput (issue 16): a synthetic class of one assignment graded through
`pt2jax autograde`'s Dask path with 1 worker pinned to one core, then 2 workers pinned to one core
each (external `dask scheduler` + `taskset -c K dask worker`), then a LocalCluster of 2 (unpinned),
in one run. Prints submissions per minute, the scaling ratio, and the one writer's seconds per student.

Run: .venv/bin/python -m bench.class_grading --assignment 01_arrays -n 40
     .venv/bin/python -m bench.class_grading --assignment 00_tiny -n 8     (the test fixture course)
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FIXTURE = ROOT / "tests" / "fixtures" / "course"
DASK = Path(sys.executable).parent / "dask"


def _course(dest: Path, assignment: str) -> Path:
    """A fresh nbgrader course holding ``assignment`` (the repository's, or the tiny fixture's), generated."""
    from pt2jax.build import build_assignment
    from pt2jax.config import CourseDir
    from pt2jax.course.demo import _make_demo_course
    from pt2jax.nbgrader_cmd import run_nbgrader

    if (FIXTURE / "source" / assignment).is_dir():
        dest.mkdir(parents=True)
        for name in ("nbgrader_config.py", "pyproject.toml"):
            shutil.copy(ROOT / name, dest / name)
        shutil.copytree(ROOT / "requirements", dest / "requirements")
        for part in ("source", "autograder"):
            shutil.copytree(FIXTURE / part / assignment, dest / part / assignment)
        build_assignment(CourseDir(dest), assignment, verify=False)
    else:
        _make_demo_course(CourseDir(ROOT), dest, [assignment])
        shutil.copytree(ROOT / "solutions" / assignment, dest / "solutions" / assignment)
    run_nbgrader(dest, "generate_assignment", assignment, "--force")
    return dest


def _external(n: int, tmp: Path) -> tuple[str, list[subprocess.Popen[bytes]]]:
    """A `dask scheduler` and ``n`` workers, worker K pinned to core K (taskset), one thread each."""
    info = tmp / "scheduler.json"
    procs = [subprocess.Popen([DASK, "scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
                               "--scheduler-file", str(info)], stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL, start_new_session=True)]
    while not info.exists():
        time.sleep(0.2)
    address = json.loads(info.read_text())["address"]
    cores = sorted(os.sched_getaffinity(0))
    for k in range(n):
        procs.append(subprocess.Popen(["taskset", "-c", str(cores[k % len(cores)]), DASK, "worker", address,
                                       "--nthreads", "1", "--no-nanny", "--no-dashboard", "--memory-limit", "0",
                                       "--host", "127.0.0.1"], stdout=subprocess.DEVNULL,
                                      stderr=subprocess.DEVNULL, start_new_session=True))
    from distributed import Client

    with Client(address, timeout=60) as client:
        client.wait_for_workers(n, timeout=120)
    return address, procs


def _run(root: Path, assignment: str, *, workers: int | None = None, scheduler: str | None = None) -> dict:
    from pt2jax.course.batch import BatchStats, autograde

    shutil.rmtree(root / "reports" / assignment / ".spool", ignore_errors=True)
    stats = BatchStats()
    start = time.perf_counter()
    autograde(root, assignment, force=True, workers=workers, scheduler=scheduler, progress=False, stats=stats)
    wall = time.perf_counter() - start
    return {"wall_s": wall, "graded": len(stats.graded), "write_s": stats.write_s, "here": len(stats.graded_here)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--assignment", default="01_arrays")
    parser.add_argument("-n", type=int, default=40, help="synthetic submissions")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    from pt2jax.config import CourseDir
    from pt2jax.course.synthetic import synthetic_class, write_class

    with tempfile.TemporaryDirectory(prefix="pt2jax-bench-") as tmp_s:
        tmp = Path(tmp_s)
        root = _course(tmp / "course", args.assignment)
        students = synthetic_class(CourseDir(root), args.assignment, args.n, seed=args.seed, repo=ROOT)
        write_class(root, args.assignment, students)
        print(f"{args.assignment}: {args.n} synthetic submissions {dict(Counter(k for k, _ in students.values()))}"
              f" on {os.cpu_count()} cores", flush=True)
        # the compilation cache is warmed once, before any timed run (else the first path pays it alone)
        from pt2jax.grade.compile_cache import warm
        from pt2jax.grade.seeding import base_seed, course_secret

        start = time.perf_counter()
        warm(CourseDir(root), args.assignment, base_seed(course_secret(root)))
        print(f"compilation cache warmed by the solution in {time.perf_counter() - start:.1f} s (not timed below)",
              flush=True)
        rows = []
        for label, n in (("external, 1 worker pinned to 1 core", 1), ("external, 2 workers pinned 1 core each", 2)):
            (tmp / label[:12].replace(" ", "_")).mkdir(exist_ok=True)
            address, procs = _external(n, tmp / label[:12].replace(" ", "_"))
            try:
                rows.append((label, n, _run(root, args.assignment, scheduler=address)))
            finally:
                for proc in reversed(procs):
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait()
            print(rows[-1], flush=True)
        rows.append(("LocalCluster, 2 workers (unpinned)", 2, _run(root, args.assignment, workers=2)))
        print(rows[-1], flush=True)
    print(f"\n{'path':<42} {'wall s':>7} {'subm/min':>9} {'writer s/student':>17} {'graded here':>12}")
    for label, _, r in rows:
        print(f"{label:<42} {r['wall_s']:>7.1f} {60 * r['graded'] / r['wall_s']:>9.2f}"
              f" {r['write_s'] / max(r['graded'], 1):>17.2f} {r['here']:>12}")
    print(f"scaling 2 pinned workers / 1: {rows[0][2]['wall_s'] / rows[1][2]['wall_s']:.2f}x (target >= 1.8x)")


if __name__ == "__main__":
    main()
