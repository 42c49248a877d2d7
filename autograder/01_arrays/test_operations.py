"""Hidden checks for Part 4 of 01_arrays: operations (exercises 15 to 19)."""

import numpy as np
import torch

from pt2jax.checks import (
    StudentArray,
    StudentRaised,
    as_jax,
    expect,
    expect_array,
    expect_tuple,
    extra_hints,
    fail,
    graded,
    show,
)


def _rows_cols(rng, low=2, high=8):
    """Two different sizes, so that swapping the axes changes the shape."""
    rows = int(rng.integers(low, high))
    cols = int(rng.integers(low, high - 1))
    return rows, cols + (cols >= rows)


# Exercise 15 ------------------------------------------------------------------------------------

def _join(student, rng):
    rows, cols = _rows_cols(rng)
    arrays = [rng.normal(size=(rows, cols)).astype(np.float32) for _ in range(int(rng.integers(2, 5)))]
    got = student.call("join", [as_jax(a) for a in arrays])
    return expect_tuple(got, 2, "join(xs)"), [torch.from_numpy(a) for a in arrays]


@graded("ex15_join_check", points=1)
def test_concatenate_along_columns(student, rng):
    """The arrays side by side: torch.cat(ts, dim=1)."""
    (side_by_side, _), ts = _join(student, rng)
    expect_array(side_by_side, torch.cat(ts, dim=1), what=f"side_by_side for {len(ts)} arrays",
                 hints=["dim_vs_axis"])


@graded("ex15_join_check", points=1)
def test_stack_along_new_last_axis(student, rng):
    """The arrays stacked on a new last axis: torch.stack(ts, dim=-1)."""
    (_, stacked), ts = _join(student, rng)
    expect_array(stacked, torch.stack(ts, dim=-1), what=f"stacked for {len(ts)} arrays",
                 hints=["dim_vs_axis"])


# Exercise 16 ------------------------------------------------------------------------------------

def _matmul_case(student, rng, n, k):
    x = rng.uniform(-1.0, 1.0, size=(n, k)).astype(np.float32)
    y = rng.uniform(-1.0, 1.0, size=(k, k)).astype(np.float32)
    try:
        got = student.call("matmul_relu_add", as_jax(x), as_jax(y))
    except StudentRaised as exc:  # x * y with x of shape (n, k), n != k: JAX refuses to broadcast
        if exc.exc_type == "TypeError" and exc.message.startswith(
                f"mul got incompatible shapes for broadcasting: {x.shape}, {y.shape}"):
            exc.hints += ("elementwise_matmul",)
        raise
    tx, ty = torch.from_numpy(x), torch.from_numpy(y)
    want = torch.relu(tx @ ty) + tx
    atol = 1e-4 * max(1.0, float(want.abs().max()))
    hints = []
    if x.shape == y.shape:  # is it relu(x * y) + x, the elementwise product where @ was meant?
        elementwise = (torch.relu(tx * ty) + tx).numpy()
        if (isinstance(got, StudentArray) and got.shape == elementwise.shape
                and np.issubdtype(got.value.dtype, np.number)
                and np.allclose(got.value, elementwise, rtol=1e-4, atol=atol)):
            hints.append("elementwise_matmul")
    expect_array(got, want, rtol=1e-4, atol=atol, hints=hints,
                 what=f"matmul_relu_add(x of shape {x.shape}, y of shape {y.shape})")


@graded("ex16_matmul_relu_add_check", points=1)
def test_square_inputs(student, rng):
    """Square x and y, where the elementwise product also runs (and gives other numbers)."""
    n = int(rng.integers(3, 40))
    _matmul_case(student, rng, n, n)


@graded("ex16_matmul_relu_add_check", points=1)
def test_rectangular_x(student, rng):
    """x of shape (n, k) with n != k."""
    n, k = _rows_cols(rng, 3, 40)
    _matmul_case(student, rng, n, k)


# Exercise 17 ------------------------------------------------------------------------------------

def _summary(student, rng):
    values = rng.uniform(-1.0, 1.0, size=_rows_cols(rng)).astype(np.float32)
    return expect_tuple(student.call("summary", as_jax(values)), 2, "summary(x)"), values


@graded("ex17_summary_check", points=1)
def test_total_is_python_float(student, rng):
    """total is a Python float equal to the sum of x."""
    (total, _), values = _summary(student, rng)
    if not isinstance(total, float):
        fail(f"total should be a Python float; got {show(total)}. Use .item() (or float(...)).",
             hint="item_host_sync")
    want = torch.from_numpy(values).sum().item()
    expect(abs(total - want) <= 1e-5 * np.abs(values).sum() + 1e-6,
           f"total is {total!r}, but the sum of x is {want!r}.")


@graded("ex17_summary_check", points=1)
def test_host_copy_is_numpy(student, rng):
    """host is a NumPy array with x's values, dtype and shape."""
    (_, host), values = _summary(student, rng)
    expect_array(host, values, kind="numpy.ndarray", what="host", hints=["item_host_sync"])


# Exercise 18 ------------------------------------------------------------------------------------

def _reduce(student, rng):
    values = rng.uniform(0.5, 2.0, size=_rows_cols(rng)).astype(np.float32)
    got = student.call("reduce_tour", as_jax(values))
    return expect_tuple(got, 3, "reduce_tour(x)"), torch.from_numpy(values)


@graded("ex18_reduce_tour_check", points=1)
def test_column_sums(student, rng):
    """col_sums: t.sum(dim=0)."""
    (col_sums, _, _), t = _reduce(student, rng)
    expect_array(col_sums, t.sum(dim=0), atol=1e-5, what=f"col_sums for x of shape {tuple(t.shape)}",
                 hints=["dim_vs_axis"])


@graded("ex18_reduce_tour_check", points=1)
def test_row_means_keepdims_and_shares(student, rng):
    """row_means keeps the reduced axis, (r, 1); row_shares is x over its row sums."""
    (_, row_means, row_shares), t = _reduce(student, rng)
    shape = tuple(t.shape)
    expect_array(row_means, t.mean(dim=1, keepdim=True), what=f"row_means for x of shape {shape}")
    expect_array(row_shares, t / t.sum(dim=1, keepdim=True), what=f"row_shares for x of shape {shape}",
                 hints=["keepdim"])


# Exercise 19 ------------------------------------------------------------------------------------

def _max_with_index(student, rng):
    rows, cols = _rows_cols(rng, 3, 9)
    # distinct values, so the position of each row's maximum is unambiguous
    values = (rng.permutation(rows * cols).reshape(rows, cols) * 0.25 - 3.0).astype(np.float32)
    with extra_hints("torch_max_tuple"):  # e.g. values, indices = jnp.max(x, axis=1)
        got = student.call("max_with_index", as_jax(values))
    return expect_tuple(got, 2, "max_with_index(x)", hint="torch_max_tuple"), torch.max(
        torch.from_numpy(values), dim=1)


@graded("ex19_max_with_index_check", points=1)
def test_row_maxima(student, rng):
    """values: the maximum of each row."""
    (values, _), want = _max_with_index(student, rng)
    expect_array(values, want.values, what="values", hints=["dim_vs_axis"])


@graded("ex19_max_with_index_check", points=1)
def test_row_argmax_int32(student, rng):
    """indices: the column of each row's maximum, int32 (torch gives int64)."""
    (_, indices), want = _max_with_index(student, rng)
    expect_array(indices, want.indices, dtype="int32", what="indices", hints=["torch_max_tuple"])
