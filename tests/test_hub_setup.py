"""`make hub`'s preparation (pt2jax.hub) on this machine: real Unix accounts and PAM, the runtime every
account can run, and the cgroup grant that lets the non-root grader sandbox a submission while
everyone else is refused. Needs root (tests/test_hub.py drives the whole hub in a browser)."""

from __future__ import annotations

import json
import os
import pwd
import shutil
import stat
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pamela
import pytest
from conftest import REPO, TINY
from e2e.hub import TEST_PREFIX, run_as

from pt2jax.config import CourseDir
from pt2jax.hub.accounts import GRADERS_GROUP, Accounts, _ensure_user, ensure_accounts
from pt2jax.hub.grants import delegate_cgroups
from pt2jax.hub.runtime import ensure_runtime

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="real Unix accounts and cgroup grants: run as root")

RUNTIME = REPO / "build" / "hub" / "venv"
ACC = Accounts(TEST_PREFIX)
PROBE = ("import tempfile; from pathlib import Path; from pt2jax.grade.sandbox import probe_sandbox\n"
         "with tempfile.TemporaryDirectory() as tmp:\n    print(probe_sandbox(Path(tmp)) or 'ok')")


@pytest.fixture(scope="module")
def accounts(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, str], Path]:
    ensure_runtime(RUNTIME)
    secrets = tmp_path_factory.mktemp("hubstate") / "state" / "passwords.json"
    return ensure_accounts(ACC, secrets), secrets


def test_the_runtime_is_this_interpreter_and_runs_as_nobody() -> None:
    python = ensure_runtime(RUNTIME)
    code = "import sys, nbgrader, jupyterhub, jax, torch; print(sys.version.split()[0], sys.prefix)"
    proc = run_as("nobody", code)
    assert proc.returncode == 0, proc.stderr[-2000:]
    version, prefix = proc.stdout.split()
    assert version == sys.version.split()[0]  # the same interpreter, not the system's 3.11.x
    assert Path(prefix) == RUNTIME and python.parent.parent == RUNTIME


def test_passwords_are_generated_once_kept_root_only_and_accepted_by_pam(
        accounts: tuple[dict[str, str], Path]) -> None:
    fresh, secrets = accounts
    assert set(fresh) == set(ACC.logins)  # a fresh record: every login gets a password
    assert stat.S_IMODE(secrets.stat().st_mode) == 0o600 and stat.S_IMODE(secrets.parent.stat().st_mode) == 0o700
    for name, password in fresh.items():
        pamela.authenticate(name, password, service="login")
        assert stat.S_IMODE(Path(pwd.getpwnam(name).pw_dir).stat().st_mode) == 0o700
    with pytest.raises(pamela.PAMError):  # one wrong password is enough (PAM delays every failure)
        pamela.authenticate(ACC.students[0], fresh[ACC.students[0]] + "x", service="login")
    assert ensure_accounts(ACC, secrets) == {}  # on record: nothing new, nothing printed


def test_an_account_pt2jax_did_not_make_is_never_touched() -> None:
    with pytest.raises(RuntimeError, match="did not make"):
        _ensure_user("nobody", login=True)


def test_the_grader_sandboxes_under_the_grant_and_a_student_is_refused(accounts: object) -> None:
    for parent in delegate_cgroups(GRADERS_GROUP):
        assert stat.S_IMODE(parent.stat().st_mode) == 0o775
    grader = run_as(ACC.grader, PROBE)
    assert grader.returncode == 0 and grader.stdout.strip() == "ok", grader.stdout + grader.stderr[-2000:]
    student = run_as(ACC.students[0], PROBE)  # not in pt2jax-graders: no cgroup, so no grading
    assert student.returncode == 0, student.stderr[-2000:]
    assert student.stdout.startswith("cannot set up cgroup limits"), student.stdout


PT2JAX = "import runpy, sys; sys.argv[0] = 'pt2jax'; runpy.run_module('pt2jax', run_name='__main__')"


@pytest.fixture
def own_courses(tiny_course: CourseDir) -> Iterator[Path]:
    """A folder under build/ (reachable by the accounts) for copies of the tiny course, removed after."""
    base = REPO / "build" / "hub-test"
    base.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix="grade-", dir=base))
    tmp.chmod(0o755)
    try:
        yield tmp
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _course_of(name: str, tiny_course: CourseDir, where: Path) -> Path:
    course = where / name
    shutil.copytree(tiny_course.root, course)
    user = pwd.getpwnam(name)
    for folder, dirs, files in os.walk(course):
        for item in (folder, *(os.path.join(folder, n) for n in (*dirs, *files))):
            os.chown(item, user.pw_uid, user.pw_gid, follow_symlinks=False)
    course.chmod(0o700)
    return course


def test_pt2jax_grade_as_the_grader_is_sandboxed_and_as_a_student_refuses(
        accounts: object, tiny_course: CourseDir, own_courses: Path) -> None:
    """The real `pt2jax grade` (what the formgrader's Autograde runs): full marks, sandboxed, as the grader;
    refused, with nothing run, as an account without the cgroup grant."""
    delegate_cgroups(GRADERS_GROUP)
    results = {}
    for name in (ACC.grader, ACC.students[0]):
        course = _course_of(name, tiny_course, own_courses)
        solution = course / "solutions" / TINY / f"{TINY}.ipynb"
        results[name] = run_as(name, PT2JAX, "--course", str(course), "grade", str(solution), "--assignment", TINY,
                               "--json", "--seed", "0", "--student", "s1", timeout_s=300)
    grader = results[ACC.grader]
    assert grader.returncode == 0, grader.stderr[-3000:]
    report = json.loads(grader.stdout)
    assert report["score"] == report["max_score"] > 0
    assert "unsandboxed" not in {f["kind"] for f in report["flags"]}
    student = results[ACC.students[0]]
    assert student.returncode == 2 and student.stdout == "", student.stdout + student.stderr[-2000:]
    assert "refusing to run student code" in student.stderr and "cgroup" in student.stderr, student.stderr[-2000:]
