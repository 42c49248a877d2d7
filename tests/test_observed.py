"""pt2jax.grade.observed: structural facts (timings, traces): parsing the kernel's reports, and
cross-checking them from outside."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import nbformat
import numpy as np
import pytest

from pt2jax.checks import trace_and_call
from pt2jax.config import Limits
from pt2jax.errors import StudentCrashed, StudentRaised
from pt2jax.grade.kernel import Kernel
from pt2jax.grade.observed import MalformedFact, Timing, parse_timing, parse_trace
from pt2jax.grade.probe import KernelStudent, RecordingStudent, ReplayStudent
from pt2jax.grade.wire import StudentArray

LIMITS = Limits(cell_timeout_s=20, notebook_timeout_s=60, call_timeout_s=20)

REPORT = {"first_s": 0.5, "times": [0.1, 0.1], "first_compiles": 1, "later_compiles": 0}
TRACE = {"jitted": True, "text": "{ lambda ; a:f32[3]. let b = sin a in (b,) }",
         "primitives": {"sin": 1}, "out": [[[3], "float32"]]}


def test_timing_uses_the_graders_clock() -> None:
    timing = parse_timing(REPORT, wall_s=0.9)
    assert timing.calls == 3
    assert timing.per_call_s == pytest.approx(0.3)
    assert timing.kernel_total_s == pytest.approx(0.7)
    assert timing.disagreement() is None


@pytest.mark.parametrize("wall", [0.1, 5.0])
def test_a_kernel_clock_far_from_the_graders_is_a_disagreement(wall: float) -> None:
    problem = parse_timing(REPORT, wall_s=wall).disagreement()
    assert problem is not None and "grader measured" in problem


def test_compiles_only_on_repeated_calls_cannot_be_true() -> None:
    report = REPORT | {"first_compiles": 0, "later_compiles": 2}
    problem = parse_timing(report, wall_s=0.7).disagreement()
    assert problem is not None and "compiles" in problem


@pytest.mark.parametrize("report", [
    {"first_s": 0.5},
    REPORT | {"first_s": -1.0},
    REPORT | {"first_s": float("nan")},
    REPORT | {"first_s": True},
    REPORT | {"times": "fast"},
    REPORT | {"times": [0.1, "x"]},
    REPORT | {"first_compiles": 1.5},
    REPORT | {"extra": 1},
    [0.5, 0.1],
])
def test_malformed_timing_reports_are_refused(report: object) -> None:
    with pytest.raises(MalformedFact):
        parse_timing(report, wall_s=1.0)


def test_trace_counts_primitives_and_checks_outputs_against_a_real_call() -> None:
    trace = parse_trace(TRACE)
    assert trace.jitted and trace.count("sin", "cos") == 1 and trace.out == (((3,), "float32"),)
    ok = StudentArray(np.zeros(3, np.float32), "jax.Array", "float32", (3,))
    other = StudentArray(np.zeros(4, np.float32), "jax.Array", "float32", (4,))
    assert trace.disagreement(ok) is None
    assert trace.disagreement((ok,)) is None
    problem = trace.disagreement(other)
    assert problem is not None and "(4,)" in problem


@pytest.mark.parametrize("report", [
    TRACE | {"jitted": 1},
    TRACE | {"primitives": {"sin": -1}},
    TRACE | {"primitives": [["sin", 1]]},
    TRACE | {"out": [[3, "float32"]]},
    TRACE | {"out": [[[3.5], "float32"]]},
    {"text": ""},
])
def test_malformed_trace_reports_are_refused(report: object) -> None:
    with pytest.raises(MalformedFact):
        parse_trace(report)


NOTEBOOK = """
import time
import jax
import jax.numpy as jnp

def matmul_sin(x):
    return jnp.sin(x) @ x.T

jitted = jax.jit(matmul_sin)

def recompiles(x):
    return jax.jit(lambda y: y * 2)(x)  # a new function each call: compiled every time

def branchy(x):
    if x.sum() > 0:
        return x
    return -x

def sleepy(x):
    time.sleep(0.2)
    return x
"""


@pytest.fixture(scope="module")
def student(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KernelStudent]:
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(NOTEBOOK)])
    with Kernel(nb, tmp_path_factory.mktemp("structure"), LIMITS) as kernel:
        report = kernel.run_notebook()
        assert not report.issues
        yield KernelStudent(kernel, LIMITS.call_timeout_s)


def test_timing_of_a_sleeping_function(student: KernelStudent) -> None:
    timing = student.time("sleepy", np.ones(3, np.float32), repeat=2)
    assert timing.calls == 3
    assert 0.19 <= timing.per_call_s < 1.0
    assert timing.disagreement() is None


def test_compiles_are_counted(student: KernelStudent) -> None:
    x = np.ones((8, 8), np.float32)
    jitted = student.time("jitted", x, repeat=3)
    assert jitted.first_compiles >= 1 and jitted.later_compiles == 0
    again = student.time("recompiles", x, repeat=3)
    assert again.later_compiles >= 3


def test_trace_sees_jit_and_primitives(student: KernelStudent) -> None:
    x = np.ones((5, 5), np.float32)
    jitted, plain = student.trace("jitted", x), student.trace("matmul_sin", x)
    assert jitted.jitted and not plain.jitted
    assert plain.count("sin") == 1 and plain.count("dot_general") == 1
    assert jitted.count("jit") == 1 and jitted.count("sin") == 1  # nested jaxprs are counted
    assert plain.out == (((5, 5), "float32"),)


def test_python_control_flow_on_traced_values_is_the_students_error(student: KernelStudent) -> None:
    with pytest.raises(StudentRaised) as info:
        student.trace("branchy", np.ones(3, np.float32))
    assert info.value.exc_type == "TracerBoolConversionError"


def test_a_patched_clock_is_caught_by_the_graders_clock(tmp_path: Path) -> None:
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(NOTEBOOK), nbformat.v4.new_code_cell(
        "_real = time.perf_counter\ntime.perf_counter = lambda: _real() * 0.01")])
    with Kernel(nb, tmp_path, LIMITS) as kernel:
        kernel.run_notebook()
        student = KernelStudent(kernel, LIMITS.call_timeout_s)
        timing = student.time("sleepy", np.ones(3, np.float32), repeat=2)
        assert timing.per_call_s >= 0.19  # verdicts use the grader's clock
        assert len(student.disagreements) == 1 and "grader measured" in student.disagreements[0]


def test_a_forged_timing_report_is_refused_and_recorded(tmp_path: Path) -> None:
    forged = "__pt2jax_time = lambda *a: {'first_s': 'instant'}"
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(NOTEBOOK)])
    with Kernel(nb, tmp_path, LIMITS) as kernel:
        kernel.run_notebook()
        student = KernelStudent(kernel, LIMITS.call_timeout_s)
        student.call("sleepy", 1)  # installs the probe helper, which the next line replaces
        kernel.run_code(forged, 5)
        with pytest.raises(StudentCrashed):
            student.time("sleepy", 1, repeat=1)
        assert student.disagreements


def test_timings_replay_with_the_graders_clock(student: KernelStudent, tmp_path: Path) -> None:
    recording = RecordingStudent(student)
    live = recording.time("sleepy", 1, repeat=1)
    recording.save(tmp_path / "probes.json")
    replayed = ReplayStudent.load(tmp_path / "probes.json").time("sleepy", 1, repeat=1)
    assert isinstance(replayed, Timing) and replayed == live
    with pytest.raises(KeyError):
        ReplayStudent.load(tmp_path / "probes.json").time("sleepy", 1, repeat=2)


def test_trace_and_call_flags_a_trace_that_contradicts_the_call(tmp_path: Path) -> None:
    lying = "__pt2jax_trace = lambda *a: {'jitted': True, 'text': '', 'primitives': {}, 'out': [[[1], 'float32']]}"
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(NOTEBOOK)])
    with Kernel(nb, tmp_path, LIMITS) as kernel:
        kernel.run_notebook()
        student = KernelStudent(kernel, LIMITS.call_timeout_s)
        trace, value = trace_and_call(student, "matmul_sin", np.ones((2, 2), np.float32))
        assert trace.out == (((2, 2), "float32"),) and value.shape == (2, 2)
        assert not student.disagreements
        kernel.run_code(lying, 5)
        trace, value = trace_and_call(student, "matmul_sin", np.ones((2, 2), np.float32))
        assert trace.jitted and value.shape == (2, 2)
        assert len(student.disagreements) == 1 and "promised outputs" in student.disagreements[0]
