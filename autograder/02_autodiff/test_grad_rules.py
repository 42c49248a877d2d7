"""Hidden checks for Part 3 of 02_autodiff: what jax.grad will not do for you (exercises 8 to 10)."""

import numpy as np
import torch

from pt2jax.checks import (
    CheckFailed,
    StudentArray,
    StudentRaised,
    as_jax,
    call_transformed,
    expect_array,
    expect_close,
    expect_tuple,
    graded,
)


def _matches(got, want):
    """Whether student data matches a reference (for choosing a hint; never decides a check)."""
    want = np.asarray(want)
    return (isinstance(got, StudentArray) and got.shape == want.shape
            and bool(np.allclose(got.value, want, rtol=1e-4, atol=1e-5)))


# Exercise 8 -------------------------------------------------------------------------------------

def _ste_input(rng):
    """Floats at least 0.05 away from the rounding boundaries k + 0.5, in a 1-D or 2-D array."""
    shape = tuple(int(s) for s in rng.integers(2, 7, size=int(rng.integers(1, 3))))
    whole = rng.integers(-6, 7, size=shape)
    return (whole + rng.uniform(-0.45, 0.45, size=shape)).astype(np.float32)


def _torch_ste(x, c):
    tx = torch.tensor(x, requires_grad=True)
    ste = tx + (torch.round(tx) - tx).detach()
    (ste * torch.from_numpy(c)).sum().backward()
    return ste.detach(), tx.grad


@graded("ex08_stop_gradient_check", points=1)
def test_ste_value(student, rng):
    """round_ste(x) has the value of round(x)."""
    x = _ste_input(rng)
    want, _ = _torch_ste(x, np.ones_like(x))
    got = student.call("round_ste", as_jax(x))
    expect_array(got, want, rtol=1e-6, atol=1e-5, what=f"round_ste(x) for x of shape {x.shape}")


@graded("ex08_stop_gradient_check", points=1)
def test_ste_gradient(student, rng):
    """The gradient of sum(round_ste(x) * c), under jax.jit (the notebook's ste_grad), is c."""
    x = _ste_input(rng)
    c = rng.uniform(0.5, 3.0, size=x.shape).astype(np.float32)
    _, want = _torch_ste(x, c)
    got = call_transformed(student, "ste_grad", "round_ste", "differentiates it with jax.grad under jax.jit",
                       as_jax(x), as_jax(c))
    zero = isinstance(got, StudentArray) and got.value.size > 0 and not np.any(got.value)
    expect_array(got, want, what="ste_grad(x, c), the gradient of sum(round_ste(x) * c)",
                 hints=["stop_gradient"] if zero else [])


# Exercise 9 -------------------------------------------------------------------------------------

def _vjp_case(student, rng):
    d_in, d_out = int(rng.integers(2, 7)), int(rng.integers(1, 6))
    n = int(rng.integers(2, 10))
    w = (rng.normal(size=(d_in, d_out)) / np.sqrt(d_in)).astype(np.float32)
    x = rng.normal(size=(n, d_in)).astype(np.float32)
    v = rng.normal(size=(n, d_out)).astype(np.float32)
    got = student.call("layer_vjp", as_jax(w), as_jax(x), as_jax(v))
    out, bars = expect_tuple(got, 2, "layer_vjp(w, x, v)")
    w_bar, x_bar = expect_tuple(bars, 2, "the second item of layer_vjp(w, x, v), (w_bar, x_bar),")
    refs = []
    for weights in (v, np.ones_like(v)):          # the real v, and v = ones (the gradient of out.sum())
        tw, tx = torch.tensor(w, requires_grad=True), torch.tensor(x, requires_grad=True)
        t_out = torch.tanh(tx @ tw)
        t_out.backward(gradient=torch.from_numpy(weights))
        refs.append((t_out.detach(), tw.grad, tx.grad))
    return (out, w_bar, x_bar), refs, f"layer_vjp(w, x, v) for x of shape {x.shape} and w of shape {w.shape}"


@graded("ex09_vjp_check", points=1)
def test_vjp_output_and_weights(student, rng):
    """out is tanh(x @ w); w_bar is w.grad after out.backward(gradient=v)."""
    (out, w_bar, _), ((want_out, want_w, _), (_, ones_w, _)), what = _vjp_case(student, rng)
    expect_close(out, want_out, f"out from {what}")
    expect_close(w_bar, want_w, f"w_bar from {what}", hints=["grad_scalar_output"] if _matches(w_bar, ones_w) else [])


@graded("ex09_vjp_check", points=1)
def test_vjp_inputs(student, rng):
    """x_bar is x.grad after out.backward(gradient=v)."""
    (_, _, x_bar), ((_, _, want_x), (_, _, ones_x)), what = _vjp_case(student, rng)
    expect_close(x_bar, want_x, f"x_bar from {what}", hints=["grad_scalar_output"] if _matches(x_bar, ones_x) else [])


# Exercise 10 ------------------------------------------------------------------------------------

def _slopes_case(student, rng, shape):
    xs = rng.integers(-20, 21, size=shape).astype(np.int32)
    try:
        got = student.call("slopes", as_jax(xs))
    except StudentRaised as exc:  # a float0 result cannot even be sent back as numbers
        if exc.exc_type == "AttributeError" and "TypedNdArray" in exc.message:
            raise CheckFailed(
                f"slopes(xs) for int32 xs of shape {shape} returned an array of dtype float0, which holds no"
                " numbers: jax.grad(..., allow_int=True) gives float0 for integer inputs. Convert xs to"
                " float32 first.", ("int_grad",)) from None
        raise
    tx = torch.from_numpy(xs).float().requires_grad_()
    (tx * torch.sin(tx)).sum().backward()
    expect_close(got, tx.grad, f"slopes(xs) for int32 xs of shape {shape}",
           hints=["int_grad"] if isinstance(got, StudentArray) and got.dtype != "float32" else [])


@graded("ex10_int_inputs_check", points=1)
def test_slopes_vector(student, rng):
    """The derivative of x * sin(x) at every element of a 1-D int32 array, as float32."""
    _slopes_case(student, rng, (int(rng.integers(3, 30)),))


@graded("ex10_int_inputs_check", points=1)
def test_slopes_matrix(student, rng):
    """The same for a 2-D int32 array: the result has the input's shape."""
    _slopes_case(student, rng, (int(rng.integers(2, 6)), int(rng.integers(2, 6))))
