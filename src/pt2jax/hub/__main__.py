"""``make hub``: prepare the single-machine hub (as root) and run JupyterHub on loopback.

``python -m pt2jax.hub [--port N] [--exchange DIR] [--prepare-only]``. See docs/deploy.md.
"""

from __future__ import annotations

import argparse
import os
import pwd
import subprocess
import sys
import tempfile
from pathlib import Path

from .accounts import GRADERS_GROUP, ensure_accounts
from .config import SETTINGS_ENV, HubSettings
from .course import install_course
from .grants import delegate_cgroups, ensure_exchange
from .runtime import ensure_runtime

__all__ = ["default_settings", "grader_sandbox_problem", "main", "prepare", "start_command"]

REPO = Path(__file__).resolve().parents[3]
PROXY = REPO / "build" / "node" / "node_modules" / ".bin" / "configurable-http-proxy"


def default_settings(port: int = 8000, exchange: Path | None = None) -> HubSettings:
    """``make hub``'s settings: state, runtime and exchange in ``build/hub/``, the course in the grader's home."""
    hub = REPO / "build" / "hub"
    return HubSettings(repo=str(REPO), state=str(hub / "state"), runtime=str(hub / "venv"), proxy=str(PROXY),
                       course="", exchange=str(exchange or hub / "exchange"), port=port)


def grader_sandbox_problem(s: HubSettings) -> str | None:
    """Run pt2jax's sandbox probe as the grader account (what the formgrader's autograde does first):
    None when a submission can be graded sandboxed, else why not."""
    user = pwd.getpwnam(s.accounts.grader)
    with tempfile.TemporaryDirectory(prefix="pt2jax-hubprobe-") as tmp:
        os.chown(tmp, user.pw_uid, user.pw_gid)
        code = ("import sys; from pathlib import Path; from pt2jax.grade.sandbox import probe_sandbox; "
                "p = probe_sandbox(Path(sys.argv[1])); print(p or 'ok')")
        proc = subprocess.run(
            ["setpriv", f"--reuid={user.pw_uid}", f"--regid={user.pw_gid}", "--init-groups", "--reset-env",
             str(Path(s.runtime) / "bin" / "python"), "-c", code, tmp],
            capture_output=True, text=True, timeout=120, cwd=tmp)
    out = proc.stdout.strip().splitlines()
    if proc.returncode == 0 and out and out[-1] == "ok":
        return None
    return (out[-1] if out else "") or proc.stderr.strip()[-500:] or f"exit {proc.returncode}"


def prepare(s: HubSettings, assignments: list[str] | None = None) -> dict[str, str]:
    """Everything the hub needs before it starts (as root); return the passwords generated now.
    An empty ``s.course`` becomes ``<grader's home>/<course id>``."""
    if os.geteuid() != 0:
        raise SystemExit("make hub runs as root: PAM checks passwords, and each user's server is started as that user")
    if not Path(s.proxy).exists():
        raise SystemExit(f"{s.proxy} is missing: `make setup` installs configurable-http-proxy with npm")
    state = Path(s.state)
    state.mkdir(parents=True, exist_ok=True)
    state.chmod(0o700)
    ensure_runtime(Path(s.runtime))
    fresh = ensure_accounts(s.accounts, s.passwords_file)
    if not s.course:  # the course lives in the grader account's home, as in nbgrader's hub setup
        s.course = str(Path(pwd.getpwnam(s.accounts.grader).pw_dir) / s.course_id)
    delegate_cgroups(GRADERS_GROUP)
    ensure_exchange(Path(s.exchange))
    install_course(Path(s.repo), Path(s.course), s.accounts.grader, assignments)
    problem = grader_sandbox_problem(s)
    if problem:
        raise SystemExit(f"grading as {s.accounts.grader} would refuse (no sandbox): {problem}\n"
                         "see docs/deploy.md, 'What the grader is granted'")
    return fresh


def start_command(settings_file: Path) -> tuple[list[str], dict[str, str]]:
    """The command (and environment) that runs the hub on ``settings_file``."""
    env = dict(os.environ)
    env[SETTINGS_ENV] = str(settings_file)
    cmd = [str(Path(sys.executable).parent / "jupyterhub"), "-f", str(REPO / "lab" / "hub" / "jupyterhub_config.py")]
    return cmd, env


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m pt2jax.hub", description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--exchange", type=Path, help="nbgrader exchange (default build/hub/exchange)")
    parser.add_argument("--prepare-only", action="store_true", help="prepare, print the accounts, do not start")
    args = parser.parse_args(argv)
    s = default_settings(args.port, args.exchange)
    fresh = prepare(s)
    acc = s.accounts
    print(f"hub: {s.url}   course service: {s.url}/services/{s.course_id}/formgrader")
    print(f"accounts: instructor {acc.instructor}; students {', '.join(acc.students)}; grader {acc.grader} (no login)")
    if fresh:
        print("passwords (shown this once; kept root-only in " + str(s.passwords_file) + "):")
        for name, password in fresh.items():
            print(f"  {name}  {password}")
    else:
        print(f"passwords: as generated at the first start (root-only: {s.passwords_file})")
    settings_file = s.write(Path(s.state) / "settings.json")
    if args.prepare_only:
        return
    cmd, env = start_command(settings_file)
    os.chdir(s.state)
    os.execve(cmd[0], cmd, env)


if __name__ == "__main__":
    main()
