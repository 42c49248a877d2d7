"""A real JupyterHub for the browser test (tests/test_hub.py): the settings `make hub` uses, with its
own accounts (prefix ``pt2jaxt-``), ports, state and exchange, started with the same command.

The accounts are real Unix users (made as root, kept between runs); each run starts from empty
homes and a fresh course, and stops every process the hub started for them.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from pt2jax.hub.__main__ import PROXY, prepare, start_command
from pt2jax.hub.accounts import Accounts
from pt2jax.hub.config import HubSettings

from .servers import REPO, free_port

TEST_PREFIX = "pt2jaxt-"


@dataclass
class Hub:
    """A running JupyterHub (stop it with :meth:`stop`)."""

    settings: HubSettings
    passwords: dict[str, str]
    proc: subprocess.Popen[bytes]
    log: Path
    tmp: Path

    @property
    def url(self) -> str:
        return self.settings.url

    def log_tail(self, n: int = 6000) -> str:
        return self.log.read_text(errors="replace")[-n:] if self.log.exists() else ""

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)  # the hub stops the servers, the service and the proxy
            try:
                self.proc.wait(timeout=90)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=20)
        stop_processes_of(self.settings.accounts)


def _uids(accounts: Accounts) -> set[int]:
    uids = set()
    for name in (*accounts.logins, accounts.grader):
        with contextlib.suppress(KeyError):
            uids.add(pwd.getpwnam(name).pw_uid)
    return uids


def processes_of(uids: set[int]) -> list[int]:
    """PIDs of the processes whose real uid is one of ``uids``."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            if entry.stat().st_uid in uids:
                pids.append(int(entry.name))
    return pids


def stop_processes_of(accounts: Accounts) -> None:
    """SIGKILL whatever still runs as the test accounts (their servers, kernels and graders, started
    by this test's hub), one PID at a time."""
    uids = _uids(accounts)
    for _ in range(10):
        pids = processes_of(uids)
        if not pids:
            return
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        time.sleep(0.5)


def _reset_home(name: str) -> None:
    """Empty the home of a test account (a previous run's fetched assignments, caches, Lab state)."""
    with contextlib.suppress(KeyError):
        home = Path(pwd.getpwnam(name).pw_dir)
        if home.is_dir():
            for item in home.iterdir():
                if item.is_dir() and not item.is_symlink():
                    shutil.rmtree(item)
                else:
                    item.unlink()


def reset_accounts(accounts: Accounts) -> None:
    stop_processes_of(accounts)
    for name in (*accounts.logins, accounts.grader):
        _reset_home(name)


def start_hub(assignments: list[str], timeout_s: float = 120) -> Hub:
    """Prepare (accounts, runtime, grants, course) and start a hub on free loopback ports."""
    accounts = Accounts(TEST_PREFIX)
    reset_accounts(accounts)
    base = REPO / "build" / "hub-test"
    base.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix="run-", dir=base))
    tmp.chmod(0o755)  # the exchange inside is reached by every account
    settings = HubSettings(
        repo=str(REPO), state=str(tmp / "state"), runtime=str(REPO / "build" / "hub" / "venv"), proxy=str(PROXY),
        course="", exchange=str(tmp / "exchange"), prefix=TEST_PREFIX,
        port=free_port(), hub_port=free_port(), proxy_api_port=free_port(), service_port=free_port())
    passwords = prepare(settings, assignments)
    # prepare() returns the passwords generated now: with a fresh state, every test account gets a new one
    assert set(passwords) == set(accounts.logins), passwords.keys()
    settings_file = settings.write(Path(settings.state) / "settings.json")
    cmd, env = start_command(settings_file)
    log = tmp / "hub.log"
    with log.open("wb") as fh:
        proc = subprocess.Popen(cmd, cwd=settings.state, env=env, stdout=fh, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True)
    hub = Hub(settings, passwords, proc, log, tmp)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"jupyterhub exited with {proc.returncode}:\n{hub.log_tail()}")
        if "JupyterHub is now running" in hub.log_tail(200_000) and _answers(f"{hub.url}/hub/api"):
            return hub
        time.sleep(0.5)
    hub.stop()
    raise RuntimeError(f"jupyterhub did not start within {timeout_s:.0f} s:\n{hub.log_tail()}")


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=5) as resp:
            return bool(resp.status == 200)
    except (OSError, urllib.error.HTTPError):
        return False


def remove_run(hub: Hub) -> None:
    """What the run left: its temp folder (state, exchange, log) and the course in the grader's home."""
    shutil.rmtree(hub.tmp, ignore_errors=True)
    shutil.rmtree(hub.settings.course, ignore_errors=True)
    for name in hub.settings.accounts.logins:
        _reset_home(name)


def run_as(name: str, code: str, *args: str, timeout_s: float = 120) -> subprocess.CompletedProcess[str]:
    """Run Python ``code`` (with ``args`` in sys.argv) as the Unix account ``name`` (its uid, gid and
    groups, a clean environment), in the hub's runtime."""
    runtime = REPO / "build" / "hub" / "venv" / "bin" / "python"
    user = pwd.getpwnam(name)
    return subprocess.run(["setpriv", f"--reuid={user.pw_uid}", f"--regid={user.pw_gid}", "--init-groups",
                           "--reset-env", str(runtime), "-c", code, *args],
                          capture_output=True, text=True, timeout=timeout_s, cwd="/")
