"""Memory of one student on a hub (docs/deploy.md's sizing table): a Jupyter server with the course's
extensions, idle; a kernel with torch + JAX + Flax + Optax imported; the same kernel's peak after running
each assignment's solution notebook (what a student's session, and one grading kernel, needs).

Resident memory (RSS, and the peak VmHWM) of the process and its children, read from /proc via psutil.
Run: .venv/bin/python -m bench.hub_sizing [--assignments 01_arrays 02_autodiff 03_resnet] [--json PATH]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

import nbformat
import psutil
from jupyter_client.manager import KernelManager
from nbclient import NotebookClient

REPO = Path(__file__).resolve().parents[1]
IMPORTS = "import torch, jax, jax.numpy as jnp, optax\nfrom flax import nnx\njnp.ones(3).block_until_ready()"


def _mib(n: float) -> float:
    return round(n / 2**20, 1)


def _tree_rss(pid: int) -> float:
    proc = psutil.Process(pid)
    return float(sum(p.memory_info().rss for p in [proc, *proc.children(recursive=True)]))


def _hwm(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return float(line.split()[1]) * 1024
    return 0.0


def server_idle() -> float:
    """RSS of `jupyter lab` with the student's configuration, a few seconds after it answers."""
    with tempfile.TemporaryDirectory() as tmp:
        port = 18765
        env = dict(os.environ, JUPYTER_CONFIG_PATH=str(REPO / "lab" / "student"), JUPYTER_PLATFORM_DIRS="1",
                   JUPYTER_RUNTIME_DIR=tmp, JUPYTER_DATA_DIR=tmp + "/data")
        cmd = [str(Path(sys.executable).parent / "jupyter"), "lab", "--no-browser", f"--port={port}",
               "--IdentityProvider.token=x", f"--ServerApp.root_dir={tmp}", "--ip=127.0.0.1"]
        if os.geteuid() == 0:
            cmd.append("--allow-root")
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            for _ in range(120):
                try:
                    urllib.request.urlopen(f"http://127.0.0.1:{port}/api/status?token=x", timeout=2)
                    break
                except OSError:
                    time.sleep(0.5)
            time.sleep(3)
            return _tree_rss(proc.pid)
        finally:
            proc.terminate()
            proc.wait(timeout=30)


def kernel_imports() -> tuple[float, float]:
    """RSS of a fresh kernel, and after the course's imports."""
    km = KernelManager(kernel_name="python3")
    km.start_kernel()
    try:
        kc = km.client()
        kc.start_channels()
        kc.wait_for_ready(timeout=120)
        pid = km.provisioner.pid  # type: ignore[union-attr]
        fresh = _tree_rss(pid)
        kc.execute_interactive(IMPORTS, timeout=300)
        return fresh, _tree_rss(pid)
    finally:
        km.shutdown_kernel(now=True)


def solution_peak(assignment: str) -> tuple[float, float, float]:
    """(RSS at the end, peak RSS, seconds) of a kernel running the solution notebook of ``assignment``."""
    path = REPO / "solutions" / assignment / f"{assignment}.ipynb"
    nb = nbformat.read(path, as_version=4)
    started = time.monotonic()
    client = NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}})
    with client.setup_kernel():
        pid = client.km.provisioner.pid  # type: ignore[union-attr]
        for index, cell in enumerate(nb.cells):
            client.execute_cell(cell, index)
        return _tree_rss(pid), _hwm(pid), time.monotonic() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--assignments", nargs="*", default=["01_arrays", "02_autodiff", "03_resnet"])
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    out: dict[str, Any] = {"server_idle_mib": _mib(server_idle())}
    fresh, loaded = kernel_imports()
    out["kernel_fresh_mib"], out["kernel_imports_mib"] = _mib(fresh), _mib(loaded)
    for a in args.assignments:
        end, peak, seconds = solution_peak(a)
        out[a] = {"rss_end_mib": _mib(end), "peak_mib": _mib(peak), "seconds": round(seconds, 1)}
    print(json.dumps(out, indent=1))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
