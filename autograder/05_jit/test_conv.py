"""Hidden checks for exercise 10 of 05_jit: the student's own 3x3 convolution (values, gradients, no
convolution inside, and faster than XLA's own on 2x2 maps as the grader measures it on a CPU)."""

from pathlib import Path

import numpy as np

from pt2jax.checks import as_jax, expect, expect_close, expect_tuple, graded, load_helper
from pt2jax.checks.speed import Verdict, expect_compiled, fresh_calls, measure_speed

speed = load_helper(Path(__file__).with_name("_speed.py"))
CONV_PRIMITIVES = ("conv_general_dilated", "conv")


def _lax_conv(x, w):
    import jax
    from jax import lax

    with jax.default_matmul_precision("highest"):
        return np.asarray(lax.conv_general_dilated(np.asarray(x), np.asarray(w), (1, 1), ((1, 1), (1, 1)),
                                                   dimension_numbers=("NHWC", "HWIO", "NHWC")))


def _case(rng):
    side = int(rng.choice([1, 2, 3, 5]))
    n, cin, cout = int(rng.integers(1, 4)), int(rng.integers(2, 17)), int(rng.integers(2, 17))
    x = rng.normal(size=(n, side, side + int(rng.integers(0, 2)), cin)).astype(np.float32)
    w = (rng.normal(size=(3, 3, cin, cout)) / np.sqrt(9 * cin)).astype(np.float32)
    return x, w


@graded("ex10_conv_check", points=1)
def test_conv_values(student, rng):
    """conv3x3(x, w) equals lax.conv_general_dilated (stride 1, padding 1) on grade-time shapes."""
    for _ in range(2):
        x, w = _case(rng)
        got = student.call("conv3x3", as_jax(x), as_jax(w))
        expect_close(got, _lax_conv(x, w), f"conv3x3(x, w) for x {x.shape}, w {w.shape}", hints=["nchw_nhwc"])


@graded("ex10_conv_check", points=1)
def test_conv_gradients_and_no_convolution(student, rng):
    """Its gradients with respect to x and w equal lax's, and its jaxpr holds no convolution."""
    import jax
    from jax import lax

    x, w = _case(rng)
    g = rng.normal(size=(*x.shape[:3], w.shape[3])).astype(np.float32)
    dx, dw = expect_tuple(student.call("graded_conv_grads", as_jax(x), as_jax(w), as_jax(g)), 2,
                          "graded_conv_grads(x, w, g)")

    def ref(x, w):
        return (lax.conv_general_dilated(x, w, (1, 1), ((1, 1), (1, 1)), dimension_numbers=("NHWC", "HWIO", "NHWC"))
                * g).sum()

    with jax.default_matmul_precision("highest"):
        want_dx, want_dw = jax.grad(ref, argnums=(0, 1))(x, w)
    expect_close(dx, np.asarray(want_dx), "the gradient of sum(conv3x3(x, w) * g) with respect to x")
    expect_close(dw, np.asarray(want_dw), "the gradient of sum(conv3x3(x, w) * g) with respect to w")
    trace = student.trace("conv3x3", as_jax(x), as_jax(w))
    expect(not trace.count(*CONV_PRIMITIVES), "conv3x3 calls a convolution (its jaxpr holds"
           f" {trace.count(*CONV_PRIMITIVES)}): the exercise asks for slices and one matmul.")


@graded("ex10_conv_check", points=1)
def test_conv_faster_than_lax_on_2x2_maps(student, rng, reference_kernel):
    """conv3x3_jit on 2x2 maps, timed by the grader on fresh inputs, beats the grader's jitted lax
    convolution on a CPU (on a GPU it must stay within 3x of it)."""
    n, c = int(rng.integers(32, 49)), int(rng.choice([256, 320]))  # where XLA:CPU's own is far slower
    tol = 5e-3 if speed.on_gpu() else 1e-4

    def measure():
        calls = fresh_calls(rng, [(n, 2, 2, c), (3, 3, c, c)], 1 + 5 * 2, scales=[1.0, 1 / np.sqrt(9 * c)])
        return measure_speed(student, "conv3x3_jit", calls, reference=_lax_conv, rng=rng, per_request=2,
                             rtol=tol, atol=tol, kernel_references={"lax": "jit_lax_conv3x3"},
                             reference_kernel=reference_kernel)

    runs = speed.remeasured(measure)
    runs.first()
    trace = student.trace("conv3x3_jit", as_jax(np.zeros((1, 2, 2, 4), np.float32)),
                          as_jax(np.zeros((3, 3, 4, 4), np.float32)))
    expect_compiled(trace, "conv3x3_jit")
    limit = 3.0 if speed.on_gpu() else 0.6

    def faster_than_lax(run):
        ratio = run.ratio_to("lax")
        return Verdict.at_most(ratio, limit, f"conv3x3_jit took a median {run.median_s * 1e3:.2f} ms per call on 2x2"
                               f" maps (batch {n}, {c} channels), the grader's lax convolution"
                               f" {run.reference_s('lax') * 1e3:.2f} ms: {ratio:.2f}x its time, at most {limit}x"
                               " expected.", f"{ratio:.2f}x")

    runs.expect(faster_than_lax)
