"""Execute step: run a notebook's cells in a kernel of its own, with time limits, and keep it for probes."""

from __future__ import annotations

import math
import os
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import nbformat
from jupyter_client import AsyncKernelManager
from jupyter_core.utils import run_sync
from nbclient import NotebookClient
from nbclient.exceptions import DeadKernelError

from ..config import Limits
from ..nbmeta import grade_id as _grade_id
from ..results import CellIssue, ExecutionReport
from .sandbox import NOBODY, Sandbox, host_name

__all__ = ["Kernel", "KernelDead", "KernelTimeout"]

MAX_STREAM_CHARS = 20_000
# Every output the kernel sends (stream, display_data, execute_result, error) counts against one
# budget per cell, enforced as each output arrives: a notebook cannot grow the grader's memory or
# the graded notebook by printing or displaying. A probe's reply may be larger (wire.MAX_REPLY_BYTES).
MAX_CELL_OUTPUT_BYTES = 2 * 1024 * 1024
MAX_PROBE_OUTPUT_BYTES = 64 * 1024 * 1024 + 4096
# Environment variables never handed to student code (the course secret seeds grade-time inputs).
_SECRET_PREFIXES = ("PT2JAX_SECRET", "PT2JAX_COURSE")


class KernelDead(RuntimeError):
    """The kernel exited or stopped answering."""


class KernelTimeout(RuntimeError):
    """A piece of code ran past its time limit (the kernel was interrupted)."""


class _WrappedKernelManager(AsyncKernelManager):
    """Starts the kernel through ``wrapper`` (the sandbox) instead of directly."""

    wrapper: Callable[[list[str]], list[str]] | None = None

    def format_kernel_cmd(self, extra_arguments: list[str] | None = None) -> list[str]:
        cmd = super().format_kernel_cmd(extra_arguments)
        if self.wrapper is None:
            return cmd
        # written (0600) just before: the sandboxed kernel runs as nobody and must read it
        if os.geteuid() == 0 and Path(self.connection_file).exists():
            os.chown(self.connection_file, NOBODY, NOBODY)
        return self.wrapper(cmd)


def _output_size(out: Any) -> int:
    if out.get("output_type") == "stream":
        return len(out.get("text", ""))
    size = 0
    for key in ("data", "traceback", "evalue", "ename"):
        value = out.get(key)
        if isinstance(value, dict):
            size += sum(len(k) + (len(v) if isinstance(v, str) else len(str(v))) for k, v in value.items())
        elif isinstance(value, list):
            size += sum(len(str(v)) for v in value)
        elif isinstance(value, str):
            size += len(value)
    return size


class _BoundedClient(NotebookClient):
    """nbclient's client, with every output type bounded per cell as it arrives."""

    budget = MAX_CELL_OUTPUT_BYTES
    _used: dict[int, int]
    _cut: set[int]

    def output(self, outs: list[Any], msg: dict[str, Any], display_id: str | None, cell_index: int) -> Any:
        out = super().output(outs, msg, display_id, cell_index)
        if out is None or not outs or outs[-1] is not out:
            return out
        used = self.__dict__.setdefault("_used", {})
        cut = self.__dict__.setdefault("_cut", set())
        size = _output_size(out)
        total = used.get(cell_index, 0) + size
        used[cell_index] = total
        if total > self.budget:
            outs.pop()
            if cell_index not in cut:
                cut.add(cell_index)
                note = (f"pt2jax: output cut here: this cell's outputs passed {self.budget // 1024} KiB;"
                        " later outputs were dropped.\n")
                outs.append(nbformat.v4.new_output("stream", name="stderr", text=note))
            return None
        return out

    @property
    def cut_cells(self) -> set[int]:
        """Indices of cells whose outputs were cut."""
        return self.__dict__.setdefault("_cut", set())

    def reset_budget(self, cell_index: int, budget: int) -> None:
        self.__dict__.setdefault("_used", {}).pop(cell_index, None)
        self.__dict__.setdefault("_cut", set()).discard(cell_index)
        self.budget = budget


# Set to "1" in every grading kernel (and the fresh processes it starts).
GRADING_ENV = "PT2JAX_GRADING"
# The only environment variables a sandboxed kernel gets (and GRADING_ENV).
_KEEP_ENV = ("PATH", "LANG", "LC_ALL", "TZ", "JAX_PLATFORMS", "XLA_FLAGS", "OMP_NUM_THREADS")


class Kernel:
    """A Python kernel running one notebook in ``workdir``; usable as a context manager."""

    def __init__(
        self, nb: nbformat.NotebookNode, workdir: Path, limits: Limits, sandbox: Sandbox | None = None,
        env: dict[str, str] | None = None,
    ) -> None:
        self.nb = nb
        self.extra_env = dict(env or {})  # set by the grader (e.g. the compilation cache), never the student
        self.limits = limits
        self.alive = False
        self.sandbox = sandbox
        # IPC sockets and connection file in a private folder: no TCP port another process could reach
        self._sockets = tempfile.TemporaryDirectory(prefix=host_name("kernel"))
        sockdir = Path(self._sockets.name)
        km = _WrappedKernelManager(kernel_name="python3", transport="ipc", ip=str(sockdir / "k"))
        km.connection_file = str(sockdir / "kernel.json")
        if sandbox is not None:
            # writable by nobody only until the kernel has made its sockets (see __enter__)
            sockdir.chmod(0o777)
            km.wrapper = lambda argv: sandbox.wrap(argv, binds=(sockdir,))
            # SIGINT to bwrap does not reach the kernel: ask the kernel to interrupt itself
            spec = km.kernel_spec
            assert spec is not None
            spec.interrupt_mode = "message"
        self._client = _BoundedClient(
            nb,
            km=km,
            timeout=limits.cell_timeout_s,
            kernel_name="python3",
            allow_errors=True,
            # nbclient interrupts on timeout and hands back this reply; raising instead would leave
            # its iopub reader running, and that reader eats the next cells' outputs
            interrupt_on_timeout=True,
            error_on_timeout={"ename": "CellTimeout", "evalue": "time limit", "traceback": []},
            record_timing=False,
            # the sandbox is torn down right after: a graceful shutdown only waits for atexit handlers
            shutdown_kernel="immediate",
            startup_timeout=120,
            resources={"metadata": {"path": str(workdir)}},
        )
        self._ctx: Any = None
        self._budget = MAX_CELL_OUTPUT_BYTES
        self.cell_seconds: dict[str, float] = {}
        self.seconds_at: dict[int, float] = {}  # every code cell that ran, by index
        self._notebook_cells = len(nb.cells)

    def __enter__(self) -> Kernel:
        if self.sandbox is not None:
            env = {k: v for k, v in os.environ.items() if k in _KEEP_ENV}
        else:
            env = {k: v for k, v in os.environ.items() if not k.startswith(_SECRET_PREFIXES)}
        env["PYTHONDONTWRITEBYTECODE"] = "1"
        # a notebook may skip what only a reader needs (04's demo training run); nothing graded depends
        # on it: the checks call the notebook's functions themselves
        env[GRADING_ENV] = "1"
        env |= self.extra_env
        # the kernel's own stdout/stderr (not the notebook's outputs) go nowhere
        self._ctx = self._client.setup_kernel(  # we made the km: clean up
            env=env, cleanup_kc=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        self._ctx.__enter__()
        if self.sandbox is not None:
            # the kernel has bound its sockets: from now on nothing in this host folder is writable
            # from inside the sandbox (it lives on the host disk, outside any size limit)
            Path(self._sockets.name).chmod(0o755)
        self.alive = True
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            self._ctx.__exit__(None, None, None)
        except Exception:
            self._kill()
        self.alive = False
        self._sockets.cleanup()

    @property
    def cut_cells(self) -> set[int]:
        """Indices of the notebook's cells whose outputs went past the per-cell limit (and were cut)."""
        return {i for i in self._client.cut_cells if i < self._notebook_cells}

    def _kill(self) -> None:
        if self._client.km is not None:
            run_sync(self._client.km.shutdown_kernel)(now=True)  # type: ignore[arg-type]  # async km

    def _execute(self, cell: Any, index: int, timeout: float) -> None:
        if not self.alive:
            raise KernelDead("the kernel is no longer running")
        limit = max(1, math.ceil(timeout))
        self._client.timeout = limit
        self._client.reset_budget(index, self._budget)
        start = time.monotonic()
        try:
            self._client.execute_cell(cell, index)
        except DeadKernelError:
            self.alive = False
            raise KernelDead("the kernel died (the code exited or was killed)") from None
        except Exception as exc:  # the kernel's side of the protocol is student code too
            self._kill()
            self.alive = False
            raise KernelDead(f"the kernel broke its messaging protocol ({type(exc).__name__})") from None
        if time.monotonic() - start >= limit:
            self._wait_until_responsive()
            raise KernelTimeout(f"ran past {limit} s")

    def _ping(self, timeout: float) -> bool:
        ping = nbformat.v4.new_code_cell("print('pt2jax-alive')")
        self.nb.cells.append(ping)
        self._client.timeout = max(1, int(timeout))
        try:
            self._client.execute_cell(ping, len(self.nb.cells) - 1)
        finally:
            self.nb.cells.pop()
        return any("pt2jax-alive" in o.get("text", "") for o in ping.outputs)

    def _wait_until_responsive(self) -> None:
        """After an interrupted cell, ping until a ping really runs (ipykernel may abort requests
        queued behind the interrupted one); a kernel that never answers within the limits'
        ``interrupt_grace_s`` is shut down."""
        deadline = time.monotonic() + self.limits.interrupt_grace_s
        try:
            while time.monotonic() < deadline:
                if self._ping(deadline - time.monotonic()):
                    return
                time.sleep(0.2)
        except Exception:  # dead, or answering garbage: either way it is shut down
            pass
        self._kill()
        self.alive = False

    def run_code(self, code: str, timeout: float, *, reply: bool = False) -> list[Any]:
        """Run ``code`` (not part of the notebook) and return its outputs (``reply``: room for a
        probe's reply, else the usual per-cell output budget)."""
        cell = nbformat.v4.new_code_cell(code)
        # nbclient writes the executed cell back at its index: use a scratch slot at the end
        self.nb.cells.append(cell)
        self._budget = MAX_PROBE_OUTPUT_BYTES if reply else MAX_CELL_OUTPUT_BYTES
        try:
            self._execute(cell, len(self.nb.cells) - 1, timeout)
        finally:
            self._budget = MAX_CELL_OUTPUT_BYTES
            self.nb.cells.pop()
        return list(cell.outputs)

    def run_notebook(
        self, *, deadline: float | None = None, after_cell: Callable[[int, Any], None] | None = None
    ) -> ExecutionReport:
        """Run every code cell in order under the per-cell and whole-notebook limits (and the whole
        grade's ``deadline``, a ``time.monotonic()`` value); ``after_cell(index, cell)`` runs after each
        cell that ran. ``cell_seconds`` keeps each grade id's wall time, ``seconds_at`` each cell's by index."""
        report = ExecutionReport()
        end = time.monotonic() + self.limits.notebook_timeout_s
        deadline = end if deadline is None else min(end, deadline)
        for index, cell in enumerate(self.nb.cells):
            if cell.cell_type != "code":
                continue
            gid = _grade_id(cell)
            left = deadline - time.monotonic()
            if not self.alive or left <= 0:
                why = "the kernel is no longer running" if not self.alive else "notebook time limit"
                report.issues.append(CellIssue(index, gid, "skipped", f"not run: {why}"))
                continue
            started = time.monotonic()
            try:
                self._execute(cell, index, min(self.limits.cell_timeout_s, left))
            except KernelTimeout:
                limit = "cell" if left > self.limits.cell_timeout_s else "notebook"
                secs = min(self.limits.cell_timeout_s, left)
                msg = f"stopped after {secs:.0f} s ({limit} time limit)"
                report.issues.append(CellIssue(index, gid, "timeout", msg))
                cell.outputs.append(_stderr(f"pt2jax: this cell was {msg}."))
            except KernelDead as exc:
                report.issues.append(CellIssue(index, gid, "kernel_died", str(exc)))
                cell.outputs.append(_stderr(f"pt2jax: {exc}; later cells were not run."))
            else:
                for out in cell.outputs:
                    if out.get("output_type") == "error":
                        ename, evalue = out.get("ename", "Error"), out.get("evalue", "")
                        msg = f"{ename}: {evalue}"[:500]
                        report.issues.append(CellIssue(index, gid, "error", msg))
            _limit_outputs(cell)
            self.seconds_at[index] = time.monotonic() - started
            if gid is not None:
                self.cell_seconds[gid] = self.seconds_at[index]
            if after_cell is not None and self.alive:
                after_cell(index, cell)
        return report


def _stderr(text: str) -> Any:
    return nbformat.v4.new_output("stream", name="stderr", text=text + "\n")


def _limit_outputs(cell: Any) -> None:
    for out in cell.outputs:
        if out.get("output_type") == "stream" and len(out.get("text", "")) > MAX_STREAM_CHARS:
            text = out["text"]
            out["text"] = text[:MAX_STREAM_CHARS] + f"\n... [{len(text) - MAX_STREAM_CHARS} chars cut]\n"
