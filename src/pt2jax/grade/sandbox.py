"""The student's kernel runs in a bubblewrap sandbox inside a per-submission cgroup.

Visible inside: the system directories (read-only), the Python installation and virtualenv
(read-only), one scratch directory (read-write, the working directory) and the kernel's socket
folder. Not visible: the course directory, autograder/, source/, the gradebook, other submissions,
the pt2jax package's source. No network (own network namespace), own PID namespace, an
unprivileged user, and memory and process-count limits from cgroup v1 (``RLIMIT_AS`` would break
``import torch``/JAX; ``RLIMIT_NPROC`` is ignored for root). See docs/grading.md.

The cgroups are made (and entered) as root; bubblewrap mounts as root but makes no user namespace,
and the command inside becomes host ``nobody`` (``setpriv``, no capabilities, no_new_privs): the
sandbox's ``nobody`` is host ``nobody``, not host root (a user namespace made by root would map it
to root), so a root-only file in a mounted folder stays unreadable and its files belong to ``nobody``.
The working directory, ``/tmp`` and ``/dev/shm`` are size-limited tmpfs made by bubblewrap inside the
sandbox (their pages count against the memory cgroup too and vanish with it; ``/dev/shm`` is private,
not the host's, and writable, so multiprocessing works in the sandbox); the master's helper files are
bound into it read-only. Every name this module makes on the host carries the grader's PID, so a
later grader can sweep what a killed one left (:func:`sweep_stale`).
"""

from __future__ import annotations

import contextlib
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["Sandbox", "SandboxUnavailable", "host_name", "probe_sandbox", "sweep_stale"]

CGROUP_ROOT = Path("/sys/fs/cgroup")
NOBODY = 65534
# Host folders and cgroups made for one grading carry this prefix and the grader's PID.
PREFIX = "pt2jax-"


def host_name(kind: str) -> str:
    """``pt2jax-<kind>-<pid>-``: the prefix of a host folder made by this grader (swept once it is dead)."""
    return f"{PREFIX}{kind}-{os.getpid()}-"


def _owner_alive(name: str) -> bool:
    """Whether the grader whose PID is in ``name`` (``pt2jax-<kind>-<pid>-...``) still runs."""
    parts = name.split("-")
    if len(parts) < 4 or not parts[2].isdigit():
        return True  # not one of ours by this scheme: never touched
    pid = int(parts[2])
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def sweep_stale(tmp: Path | None = None) -> list[str]:
    """Remove what killed graders left behind: their cgroups (after killing anything still in them)
    and their scratch, socket and probe folders. Only names of our scheme whose owner PID is dead."""
    removed: list[str] = []
    for controller in ("memory", "pids"):
        parent = CGROUP_ROOT / controller / "pt2jax"
        with contextlib.suppress(OSError):
            for group in parent.iterdir():
                legacy = re.fullmatch(r"pt2jax-[0-9a-f]{12}", group.name) is not None  # before PIDs in names
                if not group.is_dir() or (_owner_alive(group.name) and not legacy):
                    continue
                if not legacy:  # a legacy group is only removed when empty (rmdir refuses otherwise)
                    _kill_members(group / "cgroup.procs")
                with contextlib.suppress(OSError):
                    group.rmdir()
                    removed.append(str(group))
    folder = tmp or Path(tempfile.gettempdir())
    with contextlib.suppress(OSError):
        for path in folder.glob(f"{PREFIX}*"):
            if path.is_dir() and not path.is_symlink() and not _owner_alive(path.name):
                shutil.rmtree(path, ignore_errors=True)
                removed.append(str(path))
    return removed


def _kill_members(procs: Path) -> None:
    for _ in range(20):
        try:
            pids = [int(p) for p in procs.read_text().split()]
        except OSError:
            return
        if not pids:
            return
        for pid in pids:
            # gone already, or not ours to kill (a grader that is not root meeting a root grader's group)
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)


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


_SYSTEM_TOPS = ("/usr", "/etc", "/bin", "/sbin", "/lib", "/lib64", "/lib32", "/libx32", "/proc", "/dev")


def _parent_dirs(paths: list[Path]) -> list[str]:
    """``--dir`` for the folders above each mount point, world-searchable (bubblewrap, as root, would
    make them 0700 and the sandbox's nobody could not reach the mounts below them)."""
    made: list[str] = []
    for path in paths:
        for parent in reversed(Path(path).parents):
            text = str(parent)
            system = any(text == t or text.startswith(t + "/") for t in _SYSTEM_TOPS)
            if text in ("/", "/tmp") or text in made or system:
                continue
            made.append(text)
    args: list[str] = []
    for text in made:
        args += ["--perms", "0755", "--dir", text]
    return args


@dataclass
class Sandbox:
    """One submission's sandbox: wrap a command with :meth:`wrap`, use as a context manager."""

    scratch: Path
    memory_mb: int = 4096
    pids_max: int = 512
    scratch_mb: int = 1024
    shm_mb: int = 256
    # host folders mounted at the same path: read-only (e.g. the compilation cache students read) and
    # read-write (the cache while the trusted solution warms it)
    ro_binds: tuple[Path, ...] = ()
    rw_binds: tuple[Path, ...] = ()
    name: str = field(default_factory=lambda: f"{host_name('box')}{uuid.uuid4().hex[:12]}")

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
        # bubblewrap runs as nobody: it must reach the staged helper files (it never writes here)
        self.scratch.chmod(0o755)
        return self

    def __exit__(self, *exc: object) -> None:
        self.kill_all()
        self._remove_cgroups()

    def kill_all(self) -> None:
        """SIGKILL every process still in the submission's cgroup (forks included)."""
        _kill_members(self._cgroups()["pids"] / "cgroup.procs")

    def members(self) -> list[int]:
        """Host PIDs of the processes in the submission's cgroup."""
        try:
            return [int(p) for p in (self._cgroups()["pids"] / "cgroup.procs").read_text().split()]
        except OSError:
            return []

    def _remove_cgroups(self, wait_s: float = 15.0) -> None:
        """rmdir both groups; a group refuses (EBUSY) while killed members are still exiting, which
        takes a while on a loaded machine for a process holding gigabytes: kill again and retry."""
        deadline = time.monotonic() + wait_s
        for group in self._cgroups().values():
            while group.exists():
                try:
                    group.rmdir()
                except OSError:
                    if time.monotonic() > deadline:
                        break  # the next grader's sweep_stale removes it
                    _kill_members(group / "cgroup.procs")
                    time.sleep(0.1)

    def scratch_full(self) -> bool:
        """Whether the working folder (a tmpfs inside the sandbox, seen through a member's root) is
        nearly full: the notebook hit ``scratch_mb``."""
        for pid in self.members():  # bubblewrap's own monitor sees the host's folder: try them all
            with contextlib.suppress(OSError):
                stat = os.statvfs(f"/proc/{pid}/root{self.scratch}")
                if stat.f_blocks and stat.f_bavail < 0.05 * stat.f_blocks:
                    return True
        return False

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
        size = str(self.scratch_mb * 1024 * 1024)
        # the working directory: a tmpfs of bounded size (inside the sandbox, gone with it), holding
        # the master's helper files read-only
        mounts: list[str] = ["--perms", "0777", "--size", size, "--tmpfs", str(self.scratch)]
        for item in sorted(self.scratch.iterdir()) if self.scratch.is_dir() else ():
            if item.is_file() and not item.is_symlink():
                mounts += ["--ro-bind", str(item), str(item)]
        for path in self.ro_binds:
            mounts += ["--ro-bind", str(path), str(path)]
        for path in (*self.rw_binds, *binds):
            mounts += ["--bind", str(path), str(path)]
        if os.geteuid() == 0:
            # As root, bubblewrap mounts as root (the interpreter may live under /root) but makes no
            # user namespace, whose only mapping would make the sandbox's nobody host root; the
            # command then becomes host nobody (setpriv, with no capability left and no_new_privs).
            isolate = ["--unshare-ipc", "--unshare-pid", "--unshare-net", "--unshare-uts",
                       "--unshare-cgroup-try", "--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID",
                       "--cap-add", "CAP_SETPCAP"]
            setpriv = shutil.which("setpriv")
            if setpriv is None:
                raise SandboxUnavailable("setpriv (util-linux) is needed to run the sandbox as nobody")
            drop = [setpriv, f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups",
                    "--inh-caps=-all", "--bounding-set=-all", "--"]
        else:  # an unprivileged grader: the user namespace maps the sandbox user to this user
            isolate = ["--unshare-all", "--uid", str(NOBODY), "--gid", str(NOBODY)]
            drop = []
        inner = [
            bwrap, "--die-with-parent", "--new-session", *isolate,
            # /tmp first: the venv or the scratch dir may live under /tmp, and later mounts win
            "--proc", "/proc", "--dev", "/dev", "--perms", "1777", "--size", size, "--tmpfs", "/tmp",
            # a private /dev/shm for multiprocessing's semaphores and queues (spawned DataLoader
            # workers): bubblewrap's --dev leaves a root-owned 0755 folder nobody cannot write to;
            # a bounded tmpfs whose pages count against the memory cgroup, gone with the sandbox
            "--perms", "1777", "--size", str(self.shm_mb * 1024 * 1024), "--tmpfs", "/dev/shm",
            *_system_mounts(),
            *_parent_dirs([Path(sys.base_prefix).resolve(), Path(sys.prefix), self.scratch, *self.ro_binds,
                           *self.rw_binds, *binds]),
            *_python_mounts(), *mounts,
            "--chdir", str(self.scratch),
            # the grader's PID means nothing in the new PID namespace; --die-with-parent covers it
            "--unsetenv", "JPY_PARENT_PID",
            "--setenv", "HOME", str(self.scratch),
            "--setenv", "MPLCONFIGDIR", str(self.scratch / ".matplotlib"),
            "--setenv", "IPYTHONDIR", str(self.scratch / ".ipython"),
            "--", *drop, *argv,
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
