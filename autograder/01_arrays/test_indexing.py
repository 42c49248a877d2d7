"""Hidden checks for 01_arrays exercises 12 to 14: indexing, slicing and out-of-bounds indices."""

import numpy as np
import torch

from pt2jax.checks import as_jax, expect, expect_array, expect_tuple, graded

# Exercise 12 ------------------------------------------------------------------------------------

def _matrix(rng, dtype):
    rows, cols = (int(n) for n in rng.integers(3, 8, size=2))
    return rng.integers(-100, 100, size=(rows, cols)).astype(dtype)


def _rows(rng, n_rows):
    """A list of row indices with a repeat and a negative index."""
    rows = [int(r) for r in rng.integers(-n_rows, n_rows, size=int(rng.integers(2, 6)))]
    rows.append(rows[0])
    rows.append(-int(rng.integers(1, n_rows + 1)))
    return rows


@graded("ex12_index_tour_check", points=1)
def test_picked_rows(student, rng):
    """Rows listed in a Python list (repeats and negatives included), in that order."""
    values = _matrix(rng, np.int32)
    rows = _rows(rng, values.shape[0])
    got = expect_tuple(student.call("index_tour", as_jax(values), rows), 3, "index_tour(x, rows)")
    expect_array(got[0], torch.from_numpy(values)[rows], what=f"picked (rows {rows})")


@graded("ex12_index_tour_check", points=1)
def test_reversed_columns_and_inner_block(student, rng):
    """Columns in reverse order, and the block without the border rows and columns."""
    values = _matrix(rng, np.float32)
    rows = _rows(rng, values.shape[0])
    got = expect_tuple(student.call("index_tour", as_jax(values), rows), 3, "index_tour(x, rows)")
    t = torch.from_numpy(values)
    expect_array(got[1], t.flip(1), what="reversed_cols")
    expect_array(got[2], t[1:-1, 1:-1], what="inner")


# Exercise 13 ------------------------------------------------------------------------------------

def _safe_reference(values, idx, fill):
    """torch: x[i] where -n <= i < n, fill elsewhere (torch itself would raise)."""
    t, i = torch.from_numpy(values), torch.from_numpy(idx).long()
    n = t.shape[0]
    valid = (i >= -n) & (i < n)
    return torch.where(valid, t[torch.where(valid, i, 0)], torch.tensor(fill, dtype=t.dtype))


def _safe_case(student, rng, idx_fn):
    n = int(rng.integers(4, 20))
    values = rng.normal(size=n).astype(np.float32)
    idx = idx_fn(n).astype(np.int32)
    fill = float(np.float32(rng.uniform(-100.0, -50.0)))
    got = student.call("safe_take", as_jax(values), as_jax(idx), fill)
    want = _safe_reference(values, idx, fill)
    return got, want, f"safe_take(x, {idx.tolist()}, {fill:g}) for x of length {n}"


@graded("ex13_safe_take_check", points=1)
def test_in_bounds_indices(student, rng):
    """In-bounds non-negative indices behave like x[idx]."""
    got, want, what = _safe_case(
        student, rng, lambda n: rng.integers(0, n, size=int(rng.integers(1, 12))))
    expect_array(got, want, what=what)


@graded("ex13_safe_take_check", points=1)
def test_indices_past_the_end_get_fill(student, rng):
    """Indices >= n give fill (JAX would clamp them to the last element)."""
    def idx_fn(n):
        idx = rng.integers(0, n + 10, size=int(rng.integers(4, 12)))
        idx[0] = n + int(rng.integers(0, 5))
        return idx
    got, want, what = _safe_case(student, rng, idx_fn)
    expect_array(got, want, what=what, hints=["out_of_bounds"])


@graded("ex13_safe_take_check", points=1)
def test_negative_indices(student, rng):
    """-n..-1 count from the end; indices below -n give fill."""
    def idx_fn(n):
        idx = rng.integers(-n - 10, n, size=int(rng.integers(4, 12)))
        idx[0] = -int(rng.integers(1, n + 1))
        idx[1] = -n - 1 - int(rng.integers(0, 5))
        return idx
    got, want, what = _safe_case(student, rng, idx_fn)
    expect_array(got, want, what=what, hints=["out_of_bounds"])


# Exercise 14 ------------------------------------------------------------------------------------

@graded("ex14_checked_take_check", points=1)
def test_valid_indices_are_gathered(student, rng):
    """In-bounds indices, negative ones included, give x[idx]."""
    n = int(rng.integers(3, 20))
    values = rng.normal(size=n).astype(np.float32)
    idx = rng.integers(-n, n, size=int(rng.integers(1, 12)))
    idx[0], idx[-1] = -n, n - 1
    got = student.call("checked_take", as_jax(values), as_jax(idx.astype(np.int32)))
    expect_array(got, torch.from_numpy(values)[torch.from_numpy(idx)],
                 what=f"checked_take(x, {idx.tolist()}) for x of length {n}")


@graded("ex14_checked_take_check", points=1)
def test_out_of_bounds_raises_index_error(student, rng):
    """An index >= n or < -n raises IndexError, as in torch."""
    n = int(rng.integers(3, 20))
    values = rng.normal(size=n).astype(np.float32)
    for bad in (n + int(rng.integers(0, 5)), -n - 1 - int(rng.integers(0, 5))):
        idx = rng.integers(-n, n, size=int(rng.integers(1, 8)))
        idx[int(rng.integers(0, idx.size))] = bad
        raised = student.call_raises("checked_take", as_jax(values), as_jax(idx.astype(np.int32)))
        what = f"checked_take(x, {idx.tolist()}) for x of length {n}"
        expect(raised is not None,
               f"{what} returned without raising, but index {bad} is out of bounds.",
               hint="out_of_bounds")
        expect(raised.exc_type == "IndexError",
               f"{what} raised {raised.exc_type}; raise IndexError, as torch does.")
