"""Hidden checks for exercises 2 and 3 of 05_jit: really compiled, right values, and faster, as the
grader measures it (pt2jax.checks.speed: fresh inputs per timed call, the grader's clock, medians,
outputs checked, the grader's own eager and jitted references timed in the same run)."""

import weakref
from pathlib import Path

import numpy as np
import torch

from pt2jax.checks import as_jax, expect, expect_array, expect_close, graded, load_helper, trace_and_call
from pt2jax.checks.speed import Verdict, expect_compiled, fresh_calls, measure_speed

speed = load_helper(Path(__file__).with_name("_speed.py"))
_RUNS: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()  # per student being graded


def _small(rng, *shape_range):
    shape = tuple(int(n) for n in rng.integers(2, 9, size=int(rng.integers(1, 3))))
    return rng.normal(size=shape).astype(np.float32), rng.normal(size=shape).astype(np.float32)


# Exercise 2 -------------------------------------------------------------------------------------

@graded("ex02_chain_check", points=1)
def test_eager_chain_values(student, rng):
    """relu_mul_add(x, y) is relu(x * y) + x on grade-time shapes."""
    x, y = _small(rng)
    got = student.call("relu_mul_add", as_jax(x), as_jax(y))
    expect_array(got, torch.relu(torch.from_numpy(x) * torch.from_numpy(y)) + torch.from_numpy(x),
                 what=f"relu_mul_add(x, y) for x, y of shape {x.shape}")


@graded("ex02_chain_check", points=1)
def test_jitted_chain_is_compiled(student, rng):
    """relu_mul_add_jit is a jax.jit function, one compiled call without host callbacks, with the right
    values, at shapes other than the timed ones."""
    x, y = _small(rng)
    trace, got = trace_and_call(student, "relu_mul_add_jit", as_jax(x), as_jax(y))
    expect_compiled(trace, "relu_mul_add_jit")
    expect_array(got, speed.numpy_chain(x, y), what=f"relu_mul_add_jit(x, y) for x, y of shape {x.shape}")


def _chain_runs(student, rng, reference_kernels):
    """The speed runs of relu_mul_add_jit for this grade (both speed checks share them; a failing or
    inconclusive verdict on a CPU measures again on new inputs of the same shape), the grader's eager and
    jitted chains timed in its reference kernels (one each on a CPU) beside each request."""
    if student not in _RUNS:
        shape = speed.chain_shape(rng)
        per = speed.calls_per_request("chain")
        of = weakref.ref(student)  # the cache's value must not keep its key alive

        def measure():
            calls = fresh_calls(rng, [shape, shape], 1 + speed.chain_requests() * per)
            return measure_speed(
                of(), "relu_mul_add_jit", calls, reference=speed.numpy_chain, rng=rng, per_request=per,
                kernel_references={"eager": "eager_chain", "jit": "jit_chain"}, reference_kernel=reference_kernels,
                min_bytes=3 * calls[0][0].nbytes, hints=("not_jitted",))

        _RUNS[student] = speed.remeasured(measure)
    return _RUNS[student]


def _beats_eager(run):
    """On a GPU: a fixed line over the grader's eager chain."""
    eager_s, jit_s = run.reference_s("eager"), run.reference_s("jit")
    need = speed.min_speedup()
    got = 1 / max(run.ratio_to("eager"), 1e-9)
    return Verdict.at_least(got, need, f"relu_mul_add_jit took a median {run.median_s * 1e3:.2f} ms per call"
                            f" (grader's clock, new inputs each call), the grader's eager chain {eager_s * 1e3:.2f} ms:"
                            f" {got:.2f}x faster, at least {need:.2f}x expected (the grader's own jitted chain:"
                            f" {jit_s * 1e3:.2f} ms).", f"{got:.2f}x")


def _close_to_jit(run):
    """On a GPU: a fixed line against the grader's jitted chain."""
    jit_s = run.reference_s("jit")
    ratio = run.ratio_to("jit", minus_noise=speed.NOISE_SIGMAS)
    limit = speed.max_ratio_to_jit()
    return Verdict.at_most(ratio, limit, f"relu_mul_add_jit took a median {run.median_s * 1e3:.2f} ms per call, the"
                           f" grader's jitted chain {jit_s * 1e3:.2f} ms on the same inputs: {ratio:.2f}x its time"
                           f" (noise allowed for), at most {limit:.1f}x expected. Is the whole chain inside one"
                           " jitted function, with nothing converted to NumPy or recompiled on each call?",
                           f"{ratio:.2f}x")


def _expect_chain_speed(student, rng, reference_kernels, gpu_verdict, check):
    """On a GPU the strict fixed line; on a CPU the run's own references decide (_speed.cpu_chain_verdict:
    nearer the grader's jitted chain than its eager one), on the runs so far pooled (a failing verdict
    takes another run and judges on both; a slow answer's luckiest run is not enough), and runs too busy
    to show the grader's own speedup decide nothing: measured again, and if still undecided, the point
    rests on the function's structure (with a flag for the instructor)."""
    runs = _chain_runs(student, rng, reference_kernels)
    if speed.on_gpu():
        runs.expect(gpu_verdict, ("not_jitted",))
        return
    x, y = _small(rng)
    runs.expect(speed.cpu_chain_verdict, ("not_jitted",), pooled=True,
                inconclusive=speed.structure_decides(student, "relu_mul_add_jit", (as_jax(x), as_jax(y)), check))


@graded("ex02_chain_check", points=1)
def test_jitted_chain_beats_eager(student, rng, chain_reference_kernels):
    """The jitted chain, timed by the grader on fresh inputs, is faster than the grader's eager chain."""
    _expect_chain_speed(student, rng, chain_reference_kernels, _beats_eager, "test_jitted_chain_beats_eager")


@graded("ex02_chain_check", points=1)
def test_jitted_chain_as_fast_as_the_reference(student, rng, chain_reference_kernels):
    """The jitted chain's time is close to the grader's jitted chain on the same inputs."""
    _expect_chain_speed(student, rng, chain_reference_kernels, _close_to_jit,
                        "test_jitted_chain_as_fast_as_the_reference")


# Exercise 3 -------------------------------------------------------------------------------------

def _mlp_case(rng, n_range=(3, 17), d_range=(3, 33)):
    n, d, h, o = (int(rng.integers(*r)) for r in (n_range, d_range, d_range, d_range))
    x = rng.normal(size=(n, d)).astype(np.float32)
    w1 = (rng.normal(size=(d, h)) / np.sqrt(d)).astype(np.float32)
    w2 = (rng.normal(size=(h, o)) / np.sqrt(h)).astype(np.float32)
    return x, w1, w2


@graded("ex03_mlp_check", points=1)
def test_mlp_values(student, rng):
    """mlp_jit(x, w1, w2) is relu(x @ w1) @ w2 on grade-time shapes."""
    x, w1, w2 = _mlp_case(rng)
    got = student.call("mlp_jit", as_jax(x), as_jax(w1), as_jax(w2))
    want = torch.relu(torch.from_numpy(x) @ torch.from_numpy(w1)) @ torch.from_numpy(w2)
    expect_close(got, want, f"mlp_jit(x, w1, w2) for x {x.shape}, w1 {w1.shape}, w2 {w2.shape}",
                 hints=["elementwise_matmul"], rel=5e-3 if speed.on_gpu() else 1e-4)


@graded("ex03_mlp_check", points=1)
def test_mlp_is_compiled(student, rng):
    """mlp_jit is one compiled call with its two matmuls and no host callbacks."""
    x, w1, w2 = _mlp_case(rng)
    trace = student.trace("mlp_jit", as_jax(x), as_jax(w1), as_jax(w2))
    expect_compiled(trace, "mlp_jit", max_count={"dot_general": 2})
    expect(bool(trace.count("dot_general") == 2), f"mlp_jit's jaxpr holds {trace.count('dot_general')} matrix"
           " products; relu(x @ w1) @ w2 has two.", "elementwise_matmul")


@graded("ex03_mlp_check", points=1)
def test_mlp_speed_without_recompiling(student, rng, reference_kernel):
    """Timed by the grader on fresh same-shaped inputs, mlp_jit compiles once and keeps up with the
    grader's jitted reference."""
    n, d, h, o = (int(rng.integers(a, b)) for a, b in ((200, 300), (400, 600), (800, 1100), (200, 300)))
    per = speed.calls_per_request("mlp")
    tol = 5e-3 if speed.on_gpu() else 2e-4

    def measure():
        calls = fresh_calls(rng, [(n, d), (d, h), (h, o)], 1 + 4 * per, scales=[1.0, 1 / np.sqrt(d), 1 / np.sqrt(h)])
        return measure_speed(student, "mlp_jit", calls, reference=speed.numpy_mlp, rng=rng, rtol=tol, atol=tol,
                             per_request=per, kernel_references={"jit": "jit_mlp"},
                             reference_kernel=reference_kernel,
                             hints=("elementwise_matmul",))

    def close_to_jit(run):
        jit_s = run.reference_s("jit")
        ratio, limit = run.ratio_to("jit", minus_noise=speed.NOISE_SIGMAS), speed.max_ratio_to_jit()
        return Verdict.at_most(ratio, limit, f"mlp_jit took a median {run.median_s * 1e3:.2f} ms per call, the"
                               f" grader's jitted reference {jit_s * 1e3:.2f} ms on the same inputs: {ratio:.2f}x its"
                               f" time, at most {limit:.1f}x expected.", f"{ratio:.2f}x")

    speed.remeasured(measure).expect(close_to_jit, ("not_jitted",))
