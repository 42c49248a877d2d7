"""The sandbox: what student code can see, reach and use (run on a real kernel, short limits)."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
from pathlib import Path

import nbformat
import pytest
from conftest import REPO

import pt2jax
from pt2jax.config import Limits
from pt2jax.grade.kernel import Kernel
from pt2jax.grade.probe import KernelStudent
from pt2jax.grade.sandbox import CGROUP_ROOT, Sandbox, probe_sandbox, sweep_stale

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


def _run(tmp_path: Path, *sources: str, limits: Limits = LIMITS,
         scratch_mb: int = 1024) -> tuple[nbformat.NotebookNode, list, bool]:
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(s) for s in sources])
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    with Sandbox(scratch, int(limits.memory_mb), int(limits.pids_max), scratch_mb) as box, \
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
open("mine.txt", "w").write("ok"); print("scratch ok", open("mine.txt").read())
"""
    nb, _issues, _ = _run(tmp_path, code)
    out = _stdout(nb.cells[0])
    assert "uid 65534" in out and "net blocked" in out and "scratch ok ok" in out
    assert "wrote" not in out and out.count("refused") == 3
    # the working directory is a tmpfs inside the sandbox: nothing of it lands on the host disk
    assert not (tmp_path / "scratch" / "mine.txt").exists()


def test_nobody_is_host_nobody_not_host_root(tmp_path: Path) -> None:
    """Issue 13 item 21: a user namespace made by root mapped the sandbox's nobody to host root."""
    secret = tmp_path / "scratch" / "root_only.txt"  # staged into the scratch, so mounted inside
    code = f"""
import os
status = dict(l.split(":", 1) for l in open("/proc/self/status").read().splitlines() if ":" in l)
print("uids", status["Uid"].split(), "caps", status["CapEff"].strip(), status["CapPrm"].strip())
print("map", open("/proc/self/uid_map").read().split())
for path in ["/etc/shadow", {str(secret)!r}]:
    try:
        open(path).read(); print("READ", path)
    except OSError as e:
        print("denied", path)
open("made.txt", "w").write("x"); print("owner", os.stat("made.txt").st_uid)
"""
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(code), nbformat.v4.new_code_cell(
        "import time\ntime.sleep(0.1)")])
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    secret.write_text("root only")
    secret.chmod(0o600)
    with Sandbox(scratch, 1536, 96) as box, Kernel(nb, scratch, LIMITS, box) as kernel:
        kernel.run_notebook()
        host_uids = set()
        for pid in box.members():  # the host's view of every process in the submission's cgroup
            with contextlib.suppress(OSError):
                status = Path(f"/proc/{pid}/status").read_text()
                host_uids.add(next(line for line in status.splitlines() if line.startswith("Uid:")))
    out = _stdout(nb.cells[0])
    assert "READ" not in out and out.count("denied") == 2, out
    assert "uids ['65534', '65534', '65534', '65534']" in out and "caps 0000000000000000 0000000000000000" in out
    assert "owner 65534" in out
    # no user namespace: uid 65534 inside is uid 65534 on the host (the map is the identity)
    assert "map ['0', '0', '4294967295']" in out
    # bwrap's own monitor process stays root outside the sandbox; the kernel is host nobody
    assert "Uid:\t65534\t65534\t65534\t65534" in host_uids, host_uids


def test_scratch_has_a_size_limit(tmp_path: Path) -> None:
    """Issue 13 item 19: posix_fallocate put 6 GiB into the scratch folder on the host disk."""
    code = """
import os
for path in ["big", "/tmp/big"]:
    fd = os.open(path, os.O_CREAT | os.O_WRONLY)
    try:
        os.posix_fallocate(fd, 0, 6 * 2**30); print("allocated", path)
    except OSError as e:
        print("refused", path, e.errno)
    os.close(fd)
    os.unlink(path)
"""
    before = shutil.disk_usage(tmp_path).used
    nb, _issues, _ = _run(tmp_path, code, scratch_mb=64)
    out = _stdout(nb.cells[0])
    assert out.count("refused") == 2 and "allocated" not in out, out
    assert shutil.disk_usage(tmp_path).used - before < 2**28


def test_large_outputs_of_every_type_are_cut_as_they_arrive(tmp_path: Path) -> None:
    """Issue 13 item 19: eight 100 MB display_data outputs raised the grader's memory to 4 GB."""
    code = """
from IPython.display import display
for i in range(8):
    display({"text/plain": "x" * (8 * 2**20), "text/html": "y" * 10}, raw=True)
print("z" * 10**7)
"""
    nb, _issues, _ = _run(tmp_path, code, "1 + 1")
    size = len(json.dumps(nb.cells[0].outputs))
    assert size < 3 * 2**20, size
    assert any("output cut" in o.get("text", "") for o in nb.cells[0].outputs)
    assert nb.cells[1].outputs[0]["data"]["text/plain"] == "2"  # the next cell's budget is its own


def test_stale_cgroups_and_folders_of_dead_graders_are_swept(tmp_path: Path) -> None:
    """Issue 13 item 19: a SIGKILLed grader left scratch and socket folders and cgroups behind."""
    dead = subprocess.Popen(["true"])
    dead.wait()  # a PID that no longer runs (nothing reuses it this fast)
    mine = os.getpid()
    stale = [tmp_path / f"pt2jax-run-{dead.pid}-abc", tmp_path / f"pt2jax-kernel-{dead.pid}-def"]
    alive = [tmp_path / f"pt2jax-run-{mine}-ghi", tmp_path / "pt2jax-run-xyz", tmp_path / "other-1-2"]
    for folder in stale + alive:
        folder.mkdir()
        (folder / "f").write_text("x")
    groups = [CGROUP_ROOT / c / "pt2jax" / f"pt2jax-box-{dead.pid}-0123456789ab" for c in ("memory", "pids")]
    for group in groups:
        group.mkdir(parents=True)
    (tmp_path / "s").mkdir()
    live = Sandbox(tmp_path / "s").__enter__()
    try:
        removed = sweep_stale(tmp_path)
        assert set(removed) >= {str(p) for p in stale + groups}
        assert not any(p.exists() for p in stale + groups)
        assert all(p.exists() for p in alive)
        assert all(g.exists() for g in live._cgroups().values())  # a live grader's cgroup stays
    finally:
        live.__exit__(None, None, None)
        for group in groups:
            with contextlib.suppress(OSError):
                group.rmdir()


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
    assert argv.index("--tmpfs /tmp") < argv.index(f"--ro-bind {sys.prefix} ") < argv.index(f"--tmpfs {tmp_path} ")


def test_spawned_processes_share_memory_through_a_private_dev_shm(tmp_path: Path) -> None:
    """04's DataLoader workers: multiprocessing's spawn, its queues and semaphores, and shared memory
    work as nobody; the sandbox's /dev/shm is its own (the host's files are not there, its files do
    not reach the host) and bounded in size."""
    host_file = Path("/dev/shm") / f"pt2jax-test-host-{os.getpid()}"
    inside = f"pt2jax-test-inside-{os.getpid()}"
    host_file.write_text("host")
    code = f"""
import multiprocessing as mp, os
from multiprocessing import shared_memory
open("shm_helper.py", "w").write(
    "def read(name):\\n"
    "    from multiprocessing import shared_memory\\n"
    "    block = shared_memory.SharedMemory(name=name)\\n"
    "    data = bytes(block.buf[:5]).decode()\\n"
    "    block.close()\\n"
    "    return data\\n")
import shm_helper
print("host file seen:", os.path.exists({str(host_file)!r}))
block = shared_memory.SharedMemory(create=True, size=2**20, name={inside!r})
block.buf[:5] = b"hello"
with mp.get_context("spawn").Pool(1) as pool:
    print("child read:", pool.apply(shm_helper.read, ({inside!r},)))
fd = os.open("/dev/shm/big", os.O_CREAT | os.O_WRONLY)
try:
    os.posix_fallocate(fd, 0, 2**30); print("allocated 1 GiB")
except OSError as e:
    print("refused 1 GiB", e.errno)
os.close(fd)
os.unlink("/dev/shm/big")
"""
    try:
        nb, issues, _ = _run(tmp_path, code)
    finally:
        host_file.unlink()
    out = _stdout(nb.cells[0])
    assert not issues and not [o for o in nb.cells[0].outputs if o.get("output_type") == "error"], nb.cells[0].outputs
    assert "host file seen: False" in out and "child read: hello" in out, out
    assert "refused 1 GiB" in out, out
    assert not (Path("/dev/shm") / inside).exists()
