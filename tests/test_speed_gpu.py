"""Speed checks on a GPU (issue 15): the strict thresholds, an honest jitted chain against the grader's
eager and jitted references, timed by the grader's clock on fresh inputs. Marked `gpu`: skipped, with
the reason, where no CUDA GPU is visible to JAX (the default test run never needs one)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import nbformat
import numpy as np
import pytest

from pt2jax.checks import load_helper
from pt2jax.checks.speed import ReferenceKernel, fresh_calls, measure_speed
from pt2jax.config import Limits
from pt2jax.grade.kernel import Kernel
from pt2jax.grade.probe import KernelStudent

pytestmark = pytest.mark.gpu
REPO = Path(__file__).resolve().parents[1]
LIMITS = Limits(cell_timeout_s=120, notebook_timeout_s=300, call_timeout_s=120)
SHAPE = (2500, 3000)

NOTEBOOK = """
import jax, numpy as np
relu_mul_add_jit = jax.jit(lambda x, y: jax.nn.relu(x * y) + x)
relu_mul_add = lambda x, y: jax.nn.relu(x * y) + x
shipped_to_host = jax.jit(lambda x, y: jax.pure_callback(lambda a, b: np.maximum(a * b, 0) + a,
                                                          jax.ShapeDtypeStruct(x.shape, x.dtype), x, y))
"""

def _gpu_or_skip() -> None:
    jax = pytest.importorskip("jax")
    try:
        jax.devices("gpu")
    except RuntimeError:
        pytest.skip("no CUDA GPU visible to JAX here: the gpu speed checks run on a GPU machine")

@pytest.fixture(scope="module")
def student(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KernelStudent]:
    _gpu_or_skip()
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(NOTEBOOK)])
    with Kernel(nb, tmp_path_factory.mktemp("gpu"), LIMITS) as kernel:
        assert not kernel.run_notebook().issues
        yield KernelStudent(kernel, LIMITS.call_timeout_s)

SPEED = REPO / "autograder" / "05_jit" / "_speed.py"


@pytest.fixture(scope="module")
def references() -> Iterator[ReferenceKernel]:
    """The grader's references in a kernel of their own, as 05's conftest.py opens them."""
    _gpu_or_skip()
    with ReferenceKernel(load_helper(SPEED).REFERENCE_SOURCE) as kernel:
        yield kernel

def _run(student: KernelStudent, references: ReferenceKernel, name: str):  # type: ignore[no-untyped-def]
    speed = load_helper(SPEED)
    rng = np.random.default_rng(0)
    per = speed.calls_per_request("chain")
    calls = fresh_calls(rng, [SHAPE, SHAPE], 1 + 6 * per)
    run = measure_speed(student, name, calls, reference=speed.numpy_chain, rng=rng, per_request=per,
                        kernel_references={"eager": "eager_chain", "jit": "jit_chain"}, reference_kernel=references,
                        min_bytes=3 * calls[0][0].nbytes)
    return speed, run

def test_the_jitted_chain_meets_the_strict_gpu_thresholds(student: KernelStudent, references: ReferenceKernel) -> None:
    speed, run = _run(student, references, "relu_mul_add_jit")
    assert speed.on_gpu()
    assert 1 / run.ratio_to("eager") >= speed.GPU_MIN_SPEEDUP
    assert run.ratio_to("jit", minus_noise=speed.NOISE_SIGMAS) <= speed.GPU_MAX_VS_JIT
    assert run.implausible() is None

def test_the_eager_chain_fails_them(student: KernelStudent, references: ReferenceKernel) -> None:
    speed, run = _run(student, references, "relu_mul_add")
    assert 1 / run.ratio_to("eager") < speed.GPU_MIN_SPEEDUP

def test_a_host_round_trip_is_far_slower_than_the_reference(student: KernelStudent,
                                                            references: ReferenceKernel) -> None:
    speed, run = _run(student, references, "shipped_to_host")
    assert run.ratio_to("jit") > speed.GPU_MAX_VS_JIT

def test_no_gpu_means_a_clear_skip() -> None:
    jax = pytest.importorskip("jax")
    try:
        jax.devices("gpu")
    except RuntimeError:
        with pytest.raises(pytest.skip.Exception, match="no CUDA GPU"):
            _gpu_or_skip()
    else:
        _gpu_or_skip()  # nothing to skip
