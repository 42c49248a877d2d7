"""What a grading worker is sent, and what it does with it: the course files one assignment's grading
needs (``release/<a>/``, ``autograder/<a>/``, the ``[tool.pt2jax]`` limits) as one tar archive, plus one
notebook's text; back come the graded notebook's text and the report. Nothing of the gradebook, of
other submissions or of the course secret (the base seed is sent instead) is in it, so a worker on
another machine needs no access to the course directory.

The same :func:`run_grade` grades in the instructor's process (:class:`.nbgrader_plugin.PipelineGrade`
when no worker result is at hand) and on a worker (:func:`grade_on_worker`, in a course folder built
from the bundle): one way to grade, the sandbox unchanged.
"""

from __future__ import annotations

import contextlib
import ctypes
import hashlib
import io
import json
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import tarfile
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from ..config import Limits, tool_env

__all__ = ["GRADER_UNAVAILABLE", "GRADE_LOST", "NOT_GRADED", "Bundle", "GradeOutcome", "bundle_digest",
           "grade_on_worker", "make_bundle", "run_grade", "submission_key"]

# the outcome's problem starts with this when the grader could not run at all on that machine (no
# working sandbox): the grading machinery's fault, not the submission's, so it is never recorded as a grade
GRADER_UNAVAILABLE = "the grader cannot run on this machine"
GRADE_LOST = "the cluster lost this grade before it came back"  # not the submission's doing: graded again
NOT_GRADED = (GRADER_UNAVAILABLE, GRADE_LOST)  # outcomes that record no grade: the next run grades them
_SANDBOX_REFUSED = "the sandbox does not work here"  # pt2jax grade's refusal (grade/pipeline.py)
MARGIN_S = 120.0  # what one grade may take beyond its own bound (grade_timeout_s): interpreter start, cleanup
_SKIP = {"__pycache__", ".ipynb_checkpoints"}


@dataclass(frozen=True)
class Bundle:
    """One assignment's grading files as a deterministic tar archive; ``digest`` names its content."""

    assignment: str
    digest: str
    data: bytes
    # the compilation cache the solution warmed (tar.gz; empty: none), read-only in every sandbox; apart
    # from ``digest``, which names what grading reads (a cache changes how fast, never what is graded)
    cache: bytes = b""
    cache_digest: str = ""


@dataclass(frozen=True)
class GradeOutcome:
    """One graded notebook: its text and the `pt2jax grade --json` report, or why there is none."""

    graded: str | None
    report: str | None
    problem: str | None = None
    worker: str = ""
    wall_s: float = 0.0

    def to_json(self) -> dict[str, object]:
        return {"graded": self.graded, "report": self.report, "problem": self.problem,
                "worker": self.worker, "wall_s": self.wall_s}

    @classmethod
    def from_json(cls, data: dict[str, object]) -> GradeOutcome:
        def text(key: str) -> str | None:
            value = data.get(key)
            return value if isinstance(value, str) else None

        wall = data.get("wall_s", 0.0)
        return cls(text("graded"), text("report"), text("problem"), str(data.get("worker", "")),
                   float(wall) if isinstance(wall, int | float) else 0.0)


def _limits_toml(root: Path) -> bytes:
    """The ``[tool.pt2jax]`` limits of the course and nothing else of its pyproject.toml."""
    limits = Limits.from_pyproject(root / "pyproject.toml")
    lines = ["[tool.pt2jax]"] + [f"{name} = {float(getattr(limits, name))!r}" for name in Limits.__dataclass_fields__]
    return ("\n".join(lines) + "\n").encode()


def _files(root: Path, assignment: str) -> list[tuple[str, bytes]]:
    """(path in the bundle, content) of every file grading ``assignment`` reads, sorted."""
    out = [("pyproject.toml", _limits_toml(root))]
    for part in ("release", "autograder"):
        folder = root / part / assignment
        for path in sorted(folder.rglob("*")):
            if path.is_file() and not _SKIP & set(path.relative_to(folder).parts):
                out.append((f"{part}/{assignment}/{path.relative_to(folder).as_posix()}", path.read_bytes()))
    return sorted(out)


def bundle_digest(root: Path, assignment: str) -> str:
    """The digest of what grading ``assignment`` reads in course ``root`` (any change makes a new one)."""
    h = hashlib.sha256()
    for name, data in _files(root, assignment):
        h.update(json.dumps([name, len(data)]).encode())
        h.update(data)
    return h.hexdigest()


def _tar(files: list[tuple[str, bytes]]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz", format=tarfile.PAX_FORMAT) as tar:
        for name, data in files:
            info = tarfile.TarInfo(name)
            info.size, info.mode, info.mtime = len(data), 0o644, 0
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def make_bundle(root: Path, assignment: str, compile_cache: Path | None = None) -> Bundle:
    """The bundle a worker grades ``assignment`` from (with the warmed ``compile_cache`` folder, if any)."""
    cache = b""
    if compile_cache is not None:
        cache = _tar(sorted((p.relative_to(compile_cache).as_posix(), p.read_bytes())
                            for p in compile_cache.rglob("*") if p.is_file() and not p.is_symlink()))
    return Bundle(assignment, bundle_digest(root, assignment), _tar(_files(root, assignment)), cache,
                  hashlib.sha256(cache).hexdigest() if cache else "")


def submission_key(digest: str, seed: int, assignment: str, student: str, notebook_text: str) -> str:
    """What identifies one grade: the bundle, the base seed, the student (inputs are seeded per student)
    and the exact notebook text; a result is reused only for the same key."""
    nb_hash = hashlib.sha256(notebook_text.encode()).hexdigest()
    return hashlib.sha256(json.dumps([digest, seed, assignment, student, nb_hash]).encode()).hexdigest()


def run_grade(root: Path, assignment: str, student: str, notebook_text: str, seed: int,
              timeout_s: float, compile_cache: Path | None = None) -> GradeOutcome:
    """Grade one notebook with `pt2jax grade` in a subprocess against course ``root`` (a crash or a hang
    costs this submission only: past ``timeout_s`` it is stopped and the outcome says so), reading the
    warmed ``compile_cache`` folder if one is given."""
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="pt2jax-nbg-") as tmp:
        src, out = Path(tmp) / "submitted.ipynb", Path(tmp) / "graded.ipynb"
        src.write_text(notebook_text)
        cmd = [sys.executable, "-m", "pt2jax", "--course", str(root), "grade", str(src),
               "--assignment", assignment, "--student", student, "--seed", str(seed), "--json",
               "--output-notebook", str(out)]
        if compile_cache is not None:
            cmd += ["--compile-cache", str(compile_cache)]
        worker = f"{socket.gethostname()}:{os.getpid()}"
        try:
            proc = _run_bounded(cmd, root, timeout_s)
        except subprocess.TimeoutExpired:
            return GradeOutcome(None, None, "grading ran past its overall time limit", worker,
                                time.perf_counter() - start)
        if proc.returncode != 0 or not out.exists():
            problem = (proc.stderr or proc.stdout)[-2000:] or f"exit status {proc.returncode}"
            if _SANDBOX_REFUSED in proc.stderr:
                problem = f"{GRADER_UNAVAILABLE} ({worker}): {problem.strip().splitlines()[-1]}"
            return GradeOutcome(None, None, problem, worker, time.perf_counter() - start)
        return GradeOutcome(out.read_text(), proc.stdout, None, worker, time.perf_counter() - start)


_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:  # pragma: no cover - runs in the child between fork and exec
    """The grade gets SIGTERM (and cleans up) when the process that waits for it dies: a killed Dask
    worker or nbgrader leaves no grade running for nobody."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def _run_bounded(cmd: list[str], root: Path, timeout: float) -> subprocess.CompletedProcess[str]:
    """Run ``cmd``; past ``timeout`` send SIGTERM (the grader removes its sandbox, cgroups and
    folders), and SIGKILL only if it is still there 20 s later (the next grader sweeps its leftovers)."""
    with subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=root,
                          env=tool_env(), preexec_fn=_die_with_parent) as proc:
        try:
            out, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.terminate()
            try:
                proc.communicate(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.communicate()
            raise
        return subprocess.CompletedProcess(cmd, proc.returncode, out, err)


def _unpacked(data: bytes, name: str) -> Path:
    """An archive of the bundle as a folder on this worker, unpacked once per ``name`` (its digest;
    atomically: several workers of one machine may race for it)."""
    base = Path(tempfile.gettempdir()) / name
    if (base / ".complete").exists():
        return base
    tmp = Path(tempfile.mkdtemp(prefix=f"{base.name}.", dir=base.parent))
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
        tar.extractall(tmp, filter="data")
    (tmp / ".complete").write_text(name + "\n")
    tmp.chmod(0o755)
    try:
        tmp.rename(base)
    except OSError:  # another worker was first: theirs is the same content
        shutil.rmtree(tmp, ignore_errors=True)
    return base


def grade_on_worker(bundle: Bundle, student: str, notebook_text: str, seed: int) -> GradeOutcome:
    """The task a Dask worker runs: grade one notebook in a course folder built from ``bundle``."""
    root = _unpacked(bundle.data, f"pt2jax-bundle-{bundle.digest[:24]}")
    cache = _unpacked(bundle.cache, f"pt2jax-jaxcache-{bundle.cache_digest[:24]}") if bundle.cache else None
    limits = Limits.from_pyproject(root / "pyproject.toml")
    # dask's worker logger: shown by `dask worker`, silenced below warnings in a LocalCluster
    log = logging.getLogger("distributed.worker.pt2jax")
    log.info("pt2jax: grading %s/%s", student, bundle.assignment)
    outcome = run_grade(root, bundle.assignment, student, notebook_text, seed, limits.grade_timeout_s + MARGIN_S,
                        compile_cache=cache)
    log.info("pt2jax: graded %s/%s in %.1f s", student, bundle.assignment, outcome.wall_s)
    return outcome

