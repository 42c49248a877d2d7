"""Hostile notebooks built on a solution (issue 13, items 12-21), each graded by the real
`pt2jax grade` on a small fixture assignment whose checks call locked helpers, a JAX model and pure
JAX answers (tests/fixtures/guard). Each must earn at most its honest points, leave a flag, and stay
within bounded time, memory and disk, leaving nothing behind.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
import pytest
from conftest import grade, make_course

from pt2jax.build import build_assignment
from pt2jax.config import CourseDir
from pt2jax.grade.sandbox import CGROUP_ROOT, sweep_stale

GUARD = "00_guard"
FIXTURE = Path(__file__).parent / "fixtures" / "guard"
LIMITS = """
[tool.pt2jax]
cell_timeout_s = 30
notebook_timeout_s = 90
call_timeout_s = 10
memory_mb = 1536
pids_max = 128
scratch_mb = 128
grade_timeout_s = {grade_timeout_s}
"""

NUMPY_ADD_ONE = "def add_one(x):\n    return jnp.asarray(np.asarray(x) + 1)  # works eagerly, not under jit"
SPOOF = '''
class ArrayImpl:
    """Claims to be a committed jax.Array; holds NumPy."""
    committed = True
    weak_type = False
    def __init__(self, value):
        self._v = np.asarray(value)
        self.dtype, self.shape = self._v.dtype, self._v.shape
    def devices(self):
        return {jax.devices()[0]}
    def __array__(self, *a, **k):
        return self._v
ArrayImpl.__module__ = "jaxlib.xla_extension"
def scale(x):
    return ArrayImpl(2 * np.asarray(x))
'''
PURE_CALLBACK = '''
def forward(w, x):
    def host(w, x):
        t = torch.tanh(torch.from_numpy(np.asarray(x)) @ torch.from_numpy(np.asarray(w)))
        return t.numpy()
    out = jax.ShapeDtypeStruct((x.shape[0], w.shape[1]), jnp.float32)
    return jax.pure_callback(host, out, w, x)
'''
TORCH_FORWARD = '''
class Net(nnx.Module):
    def __init__(self, w):
        self.w = nnx.Param(jnp.asarray(w))

    def __call__(self, x):
        w = torch.from_numpy(np.array(self.w[...]))
        return jnp.asarray(torch.tanh(torch.from_numpy(np.array(x)) @ w).numpy())
'''
SLOW_WHEN_PROBED = '''
import sys
def add_one(x):
    frame = sys._getframe(1)
    while frame is not None:
        if "pt2jax" in frame.f_code.co_name:
            time.sleep({seconds})
            break
        frame = frame.f_back
    return x + 1
'''
FILL_DISK = '''
import os
fd = os.open("fill.bin", os.O_CREAT | os.O_WRONLY)
try:
    os.posix_fallocate(fd, 0, 6 * 2**30)
except OSError as e:
    print("fallocate refused", e.errno)
try:
    while True:
        os.write(fd, b"x" * 2**20)
except OSError as e:
    print("disk full", e.errno)
os.close(fd)
'''
BIG_OUTPUTS = '''
from IPython.display import display
for i in range(8):
    display({"text/plain": "x" * (10 * 2**20)}, raw=True)
'''
SCRIPT_OUTPUT = '''
from IPython.display import Javascript, HTML, display
display(Javascript("document.title = 'pwned'"))
display(HTML("<b>hi</b><script>fetch('/formgrader/api/...')</script>"))
'''


@dataclass
class Case:
    answers: dict[str, str] = field(default_factory=dict)  # grade_id -> answer source
    cells: list[str] = field(default_factory=list)  # code cells added at the end
    markdown: list[str] = field(default_factory=list)  # markdown cells added at the end
    score: float = 5.0
    flags: set[str] = field(default_factory=set)


CASES = {
    # 12: a later cell rebinds the locked helper the checks call
    "rebind_helper": Case({"ex01_add_one": NUMPY_ADD_ONE}, ["def jit_add_one(x):\n    return add_one(x)"],
                          score=4.0, flags={"locked_rebound"}),
    # 13: the answer cell rebinds jax.jit, so the locked helper runs un-jitted in the notebook
    "patch_jax_jit": Case({"ex01_add_one": NUMPY_ADD_ONE + '\njax.__dict__["jit"] = lambda f, *a, **k: f'},
                          score=4.0, flags={"runtime_patched"}),
    # 14: torch inside jax.pure_callback
    "pure_callback": Case({"ex03_forward": PURE_CALLBACK}, score=4.0, flags={"not_pure_jax"}),
    # 15: the model's forward pass runs in torch
    "torch_forward": Case({"ex04_net": TORCH_FORWARD}, score=4.0, flags={"not_pure_jax"}),
    # 16: a plain class that claims to be a committed jax.Array
    "spoofed_array": Case({"ex02_scale": SPOOF}, score=4.0, flags={"unexpected_type"}),
    # 18: correct, but stalls only when the probe helper calls it
    "slow_when_probed": Case({"ex01_add_one": SLOW_WHEN_PROBED.format(seconds=8)}, flags={"slow_under_grader"}),
    # 19: the disk and the grader's memory
    "fill_disk": Case(cells=[FILL_DISK], flags={"disk_limit"}),
    "big_outputs": Case(cells=[BIG_OUTPUTS], flags={"output_limit"}),
    # 20: script for the instructor's browser
    "script": Case(cells=[SCRIPT_OUTPUT], markdown=["Look <script>alert(document.cookie)</script>"
                                                    ' <img src=x onerror="alert(1)">'], flags={"active_content"}),
}


def _course(root: Path, grade_timeout_s: float) -> CourseDir:
    course = make_course(root, FIXTURE)
    (course.root / "pyproject.toml").write_text(LIMITS.format(grade_timeout_s=grade_timeout_s))
    build_assignment(course, GUARD, verify=False)
    return course


@pytest.fixture(scope="module")
def course(tmp_path_factory: pytest.TempPathFactory) -> CourseDir:
    return _course(tmp_path_factory.mktemp("guard") / "course", 300)


def _submission(course: CourseDir, case: Case, dest: Path) -> Path:
    nb = nbformat.read(course.solutions / GUARD / f"{GUARD}.ipynb", as_version=4)
    for cell in nb.cells:
        gid = cell.metadata.get("nbgrader", {}).get("grade_id")
        if gid in case.answers:
            cell.source = case.answers[gid]
    nb.cells += [nbformat.v4.new_markdown_cell(m) for m in case.markdown]
    nb.cells += [nbformat.v4.new_code_cell(c) for c in case.cells]
    nbformat.write(nb, dest)
    return dest


def _ours_left(pid: int) -> list[str]:
    """Host folders and cgroups a grader with this PID made and did not remove."""
    left = [str(p) for p in Path(tempfile.gettempdir()).glob(f"pt2jax-*-{pid}-*")]
    for controller in ("memory", "pids"):
        left += [str(p) for p in (CGROUP_ROOT / controller / "pt2jax").glob(f"pt2jax-*-{pid}-*")]
    return left


def test_honest_solution_keeps_full_marks_and_no_flags(course: CourseDir, tmp_path: Path) -> None:
    report = grade(course, _submission(course, Case(), tmp_path / "s.ipynb"), GUARD)
    assert report["score"] == 5.0, report
    assert report["flags"] == [], report["flags"]


@pytest.mark.slow  # one grade per hostile case: make test-slow (the nbgrader batch in test_adversarial is default)
@pytest.mark.parametrize("name", sorted(CASES))
def test_hostile_notebook_gains_nothing_and_is_flagged(course: CourseDir, tmp_path: Path, name: str) -> None:
    case = CASES[name]
    out = tmp_path / "graded.ipynb"
    disk = shutil.disk_usage(tempfile.gettempdir()).used
    start = time.monotonic()
    report = grade(course, _submission(course, case, tmp_path / "s.ipynb"), GUARD,
                   extra=("--output-notebook", str(out)))
    took = time.monotonic() - start
    kinds = {f["kind"] for f in report["flags"]}
    assert report["score"] == case.score, (report["score"], report["flags"], report["results"])
    assert case.flags <= kinds, report["flags"]
    assert took < 120
    assert shutil.disk_usage(tempfile.gettempdir()).used - disk < 2**28  # nothing big landed on the host
    assert out.stat().st_size < 4 * 2**20  # every output type is bounded on its way back
    graded = nbformat.read(out, as_version=4)
    shown = json.dumps([c.source for c in graded.cells if c.cell_type != "code"]
                       + [o for c in graded.cells if c.cell_type == "code" for o in c.outputs])
    assert "<script" not in shown and "application/javascript" not in shown and "onerror" not in shown


@pytest.mark.slow
def test_the_whole_grade_has_a_time_bound(tmp_path: Path) -> None:
    """Issue 13 item 18: functions that stall only under the probe helper took 776 s in all."""
    course = _course(tmp_path / "course", grade_timeout_s=35)
    case = Case({"ex01_add_one": SLOW_WHEN_PROBED.format(seconds=9)})
    start = time.monotonic()
    report = grade(course, _submission(course, case, tmp_path / "s.ipynb"), GUARD)
    took = time.monotonic() - start
    kinds = {f["kind"] for f in report["flags"]}
    assert "grade_time_limit" in kinds, report["flags"]
    assert report["score"] < 5.0
    assert took < 35 + 30  # the limit, plus start-up and what the last call may still take


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL])
def test_a_grader_stopped_midway_leaves_nothing_behind(course: CourseDir, tmp_path: Path, sig: int) -> None:
    """Issue 13 item 19: a SIGKILLed grader left scratch and socket folders and cgroups behind.
    SIGTERM: it cleans up on its way out; SIGKILL: the sandbox dies with it, the next grader sweeps."""
    nb = _submission(course, Case(cells=["time.sleep(120)"]), tmp_path / "s.ipynb")
    proc = subprocess.Popen([sys.executable, "-m", "pt2jax", "--course", str(course.root), "grade", str(nb),
                             "--assignment", GUARD, "--json"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 300  # a loaded 2-core box takes long to start torch + JAX
        box = None
        while time.monotonic() < deadline and box is None:  # wait until the notebook runs in its cgroup
            for group in (CGROUP_ROOT / "pids" / "pt2jax").glob(f"pt2jax-box-{proc.pid}-*"):
                if len((group / "cgroup.procs").read_text().split()) >= 3:
                    box = group
            time.sleep(0.5)
        assert box is not None, "the notebook never started"
        time.sleep(3)
        os.kill(proc.pid, sig)
        proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and (box / "cgroup.procs").exists() \
            and (box / "cgroup.procs").read_text().split():
        time.sleep(0.5)
    if (box / "cgroup.procs").exists():  # --die-with-parent: no sandboxed process outlives the grader
        assert (box / "cgroup.procs").read_text().split() == []
    if sig == signal.SIGKILL:
        assert _ours_left(proc.pid), "a SIGKILLed grader cannot clean up: the sweep has work to do"
        sweep_stale()
    assert _ours_left(proc.pid) == []


def test_report_timings_add_up_to_the_wall_time(course: CourseDir, tmp_path: Path) -> None:
    nb = _submission(course, Case(), tmp_path / "s.ipynb")
    start = time.monotonic()
    report = grade(course, nb, GUARD)
    wall = time.monotonic() - start
    timings = report["timings"]
    parts = sum(v for k, v in timings.items() if k.endswith("_s") and k not in ("total_s", "probes_s", "fresh_s"))
    assert abs(parts - timings["total_s"]) < 0.05
    assert timings["other_s"] < 0.1 * timings["total_s"]
    assert timings["total_s"] <= wall and wall - timings["total_s"] < 3, (wall, timings)
    assert json.dumps(timings)
