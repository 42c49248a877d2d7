"""The student's kernel runs in a bubblewrap sandbox inside a per-submission cgroup.

Visible inside: the system directories (read-only), the Python installation and virtualenv
(read-only), one scratch directory (read-write, the working directory) and the kernel's socket
folder. Not visible: the course directory, autograder/, source/, the gradebook, other submissions,
the pt2jax package's source. No network (own network namespace), own PID namespace, an
unprivileged user, and memory and process-count limits from cgroup v1 (``RLIMIT_AS`` would break
``import torch``/JAX; ``RLIMIT_NPROC`` is ignored for root). See docs/grading.md.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import shutil
import signal
import subprocess
import sys
import uuid
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["Sandbox", "SandboxUnavailable", "probe_sandbox"]

CGROUP_ROOT = Path("/sys/fs/cgroup")
NOBODY = 65534


class SandboxUnavailable(RuntimeError):
    """bubblewrap or the cgroup controllers cannot be used on this machine."""


def _system_mounts() -> list[str]:
    args: list[str] = ["--ro-bind", "/usr", "/usr", "--ro-bind", "/etc", "/etc"]
    for top in ("/bin", "/sbin", "/lib", "/lib64", "/lib32", "/libx32"):
        path = Path(top)
        if path.is_symlink():
            args += ["--symlink", os.readlink(path), top]
        elif path.is_dir():
            args += ["--ro-bind", top, top]
    return args


def _python_mounts() -> list[str]:
    """The interpreter and the environment, read-only; never the folder a package's source lives in."""
    roots = {Path(sys.base_prefix).resolve(), Path(sys.prefix)}
    args: list[str] = []
    for root in sorted(roots):
        args += ["--ro-bind", str(root), str(root)]
    return args


@dataclass
class Sandbox:
    """One submission's sandbox: wrap a command with :meth:`wrap`, use as a context manager."""

    scratch: Path
    memory_mb: int = 4096
    pids_max: int = 512
    name: str = field(default_factory=lambda: f"pt2jax-{uuid.uuid4().hex[:12]}")

    def _cgroups(self) -> dict[str, Path]:
        return {c: CGROUP_ROOT / c / "pt2jax" / self.name for c in ("memory", "pids")}

    def __enter__(self) -> Sandbox:
        groups = self._cgroups()
        try:
            for group in groups.values():
                group.mkdir(parents=True, exist_ok=True)
            limit = str(self.memory_mb * 1024 * 1024)
            (groups["memory"] / "memory.limit_in_bytes").write_text(limit)
            swap = groups["memory"] / "memory.memsw.limit_in_bytes"
            if swap.exists():
                swap.write_text(limit)  # no escaping the limit into swap
            (groups["pids"] / "pids.max").write_text(str(self.pids_max))
        except OSError as exc:
            self._remove_cgroups()
            raise SandboxUnavailable(f"cannot set up cgroup limits: {exc}") from None
        self.scratch.chmod(0o777)  # the sandboxed user (nobody) writes here
        return self

    def __exit__(self, *exc: object) -> None:
        self.kill_all()
        self._remove_cgroups()

    def kill_all(self) -> None:
        """SIGKILL every process still in the submission's cgroup (forks included)."""
        procs = self._cgroups()["pids"] / "cgroup.procs"
        for _ in range(20):
            try:
                pids = [int(p) for p in procs.read_text().split()]
            except OSError:
                return
            if not pids:
                return
            for pid in pids:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)

    def _remove_cgroups(self) -> None:
        for group in self._cgroups().values():
            with contextlib.suppress(OSError):
                group.rmdir()

    def oom_killed(self) -> bool:
        """Whether the memory limit was hit (the kernel was killed for memory)."""
        control = self._cgroups()["memory"] / "memory.oom_control"
        try:
            fields = dict(line.split() for line in control.read_text().splitlines())
            failcnt = int((self._cgroups()["memory"] / "memory.failcnt").read_text())
        except (OSError, ValueError):
            return False
        return int(fields.get("oom_kill", 0)) > 0 or failcnt > 0

    def wrap(self, argv: list[str], binds: tuple[Path, ...] = ()) -> list[str]:
        """The command that runs ``argv`` inside this sandbox, entering the cgroups first;
        ``binds`` are further folders mounted read-write (e.g. the kernel's sockets)."""
        bwrap = shutil.which("bwrap")
        if bwrap is None:
            raise SandboxUnavailable("bubblewrap (bwrap) is not installed: apt-get install bubblewrap")
        mounts: list[str] = []
        for path in (self.scratch, *binds):
            mounts += ["--bind", str(path), str(path)]
        inner = [
            bwrap, "--die-with-parent", "--new-session", "--unshare-all",
            "--uid", str(NOBODY), "--gid", str(NOBODY),
            # /tmp first: the venv or the scratch dir may live under /tmp, and later mounts win
            "--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp",
            *_system_mounts(), *_python_mounts(), *mounts,
            "--chdir", str(self.scratch),
            # the grader's PID means nothing in the new PID namespace; --die-with-parent covers it
            "--unsetenv", "JPY_PARENT_PID",
            "--setenv", "HOME", str(self.scratch),
            "--setenv", "MPLCONFIGDIR", str(self.scratch / ".matplotlib"),
            "--setenv", "IPYTHONDIR", str(self.scratch / ".ipython"),
            "--", *argv,
        ]
        enter = " && ".join(f"echo $$ > {shlex.quote(str(g / 'cgroup.procs'))}" for g in self._cgroups().values())
        return ["/bin/sh", "-c", f"{enter} && exec {shlex.join(inner)}"]


def probe_sandbox(scratch: Path) -> str | None:
    """Try the sandbox once; None when it works, else the reason it does not."""
    try:
        with Sandbox(scratch, memory_mb=512, pids_max=32) as box:
            cmd = box.wrap([sys.executable, "-c", "import os; print(os.getuid())"])
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    except SandboxUnavailable as exc:
        return str(exc)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"sandbox test failed: {exc}"
    if proc.returncode != 0 or proc.stdout.strip() != str(NOBODY):
        return f"sandbox test failed (exit {proc.returncode}): {proc.stderr.strip()[-300:]}"
    return None
