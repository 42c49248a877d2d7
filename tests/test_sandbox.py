"""The sandbox: what student code can see, reach and use (run on a real kernel, short limits)."""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pytest
from conftest import REPO

import pt2jax
from pt2jax.config import Limits
from pt2jax.grade.kernel import Kernel
from pt2jax.grade.probe import KernelStudent
from pt2jax.grade.sandbox import Sandbox, probe_sandbox

LIMITS = Limits(cell_timeout_s=20, notebook_timeout_s=60, call_timeout_s=20, memory_mb=1536, pids_max=96)

# Paths a submission must never see: the course, hidden checks, sources, gradebook, the grader's code.
SECRET_PATHS = [
    REPO / "autograder",
    REPO / "autograder" / "01_arrays",
    REPO / "source",
    REPO / "nbgrader_config.py",
    REPO / "gradebook.db",
    REPO / "tests",
    Path(pt2jax.__file__),
    Path(pt2jax.__file__).parent,
    Path(pt2jax.__file__).parents[2] / "autograder",
]


def _run(tmp_path: Path, *sources: str, limits: Limits = LIMITS) -> tuple[nbformat.NotebookNode, list, bool]:
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(s) for s in sources])
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    with Sandbox(scratch, int(limits.memory_mb), int(limits.pids_max)) as box, \
            Kernel(nb, scratch, limits, box) as kernel:
        report = kernel.run_notebook()
        oom = box.oom_killed()
    return nb, report.issues, oom


def _stdout(cell: nbformat.NotebookNode) -> str:
    return "".join(o.get("text", "") for o in cell.outputs if o.get("output_type") == "stream")


def test_probe_says_the_sandbox_works(tmp_path: Path) -> None:
    assert probe_sandbox(tmp_path) is None


def test_course_files_are_not_there(tmp_path: Path) -> None:
    code = f"""
import json, os
seen = {{}}
for p in {json.dumps([str(p) for p in SECRET_PATHS])}:
    try:
        os.stat(p); seen[p] = "visible"
    except FileNotFoundError:
        seen[p] = "no such file"
    except Exception as e:
        seen[p] = type(e).__name__
try:
    import pt2jax; seen["import pt2jax"] = "imported"
except ImportError:
    seen["import pt2jax"] = "no module"
print(json.dumps(seen))
"""
    nb, _issues, _ = _run(tmp_path, code)
    seen = json.loads(_stdout(nb.cells[0]))
    assert seen.pop("import pt2jax") == "no module"
    assert seen == {str(p): "no such file" for p in SECRET_PATHS}


def test_runs_as_nobody_without_network_and_writes_only_scratch(tmp_path: Path) -> None:
    code = """
import os, socket
print("uid", os.getuid())
try:
    socket.create_connection(("127.0.0.1", 22), timeout=2); print("net open")
except OSError as e:
    print("net blocked")
for target in ["/usr/evil", "/etc/evil", os.path.join(os.path.dirname(os.__file__), "evil")]:
    try:
        open(target, "w"); print("wrote", target)
    except OSError:
        print("refused", target)
open("mine.txt", "w").write("ok"); print("scratch ok")
"""
    nb, _issues, _ = _run(tmp_path, code)
    out = _stdout(nb.cells[0])
    assert "uid 65534" in out and "net blocked" in out and "scratch ok" in out
    assert "wrote" not in out and out.count("refused") == 3
    assert (tmp_path / "scratch" / "mine.txt").read_text() == "ok"


def test_writes_elsewhere_stay_inside_the_sandbox(tmp_path: Path) -> None:
    marker = tmp_path / "outside.txt"  # a host path the sandbox does not mount
    _nb, _, _ = _run(tmp_path, f"import os\nos.makedirs({str(tmp_path)!r}, exist_ok=True)\n"
                              f"open({str(marker)!r}, 'w').write('x')\nprint('wrote')")
    assert not marker.exists()


def test_memory_bomb_costs_the_kernel_and_is_flagged(tmp_path: Path) -> None:
    _nb, issues, oom = _run(tmp_path, "blocks = []\nwhile True:\n    blocks.append(bytearray(64 * 2**20))", "x = 1")
    assert [i.kind for i in issues] == ["kernel_died", "skipped"]
    assert oom


def test_fork_bomb_is_contained(tmp_path: Path) -> None:
    code = """
import os
made = 0
try:
    for _ in range(10_000):
        if os.fork() == 0:
            import time; time.sleep(30); os._exit(0)
        made += 1
except OSError as e:
    print("fork refused after", made)
"""
    nb, _issues, _ = _run(tmp_path, code)
    out = _stdout(nb.cells[0])
    assert "fork refused after" in out
    assert int(out.split()[-1]) < LIMITS.pids_max


@pytest.mark.parametrize("code", ["import os\nos._exit(0)", "import sys\nsys.exit(3)", "raise SystemExit",
                                  "raise KeyboardInterrupt"])
def test_exits_in_a_cell_do_not_stop_probing_the_rest(tmp_path: Path, code: str) -> None:
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(s) for s in
                                         ["def f():\n    return 7", code, "def g():\n    return 8"]])
    scratch = tmp_path / "s"
    scratch.mkdir()
    with Sandbox(scratch, 1536, 96) as box, Kernel(nb, scratch, LIMITS, box) as kernel:
        report = kernel.run_notebook()
        student = KernelStudent(kernel, 10)
        if "_exit" in code:
            assert [i.kind for i in report.issues] == ["kernel_died", "skipped"]
        else:  # IPython turns SystemExit/KeyboardInterrupt into a cell error; the kernel lives on
            assert student.call("f") == 7 and student.call("g") == 8


def test_private_tmp_is_mounted_before_the_venv_and_scratch(tmp_path: Path) -> None:
    """A checkout or scratch dir under /tmp must stay visible (later bwrap mounts win)."""
    import sys

    argv = Sandbox(tmp_path).wrap(["true"])[-1]  # the sh -c command line
    assert argv.index("--tmpfs /tmp") < argv.index(f"--ro-bind {sys.prefix} ") < argv.index(f"--bind {tmp_path} ")
