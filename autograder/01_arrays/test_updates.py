"""Hidden checks for Part 3 of 01_arrays: attributes and functional updates (exercises 8 to 10)."""

import numpy as np
import torch

from pt2jax.checks import StudentArray, as_jax, expect, expect_array, fail, graded


def _shape(rng, ndim, low=2, high=7):
    return tuple(int(n) for n in rng.integers(low, high, size=ndim))


# Exercise 8 -------------------------------------------------------------------------------------

_KEYS = ("shape", "ndim", "numel", "dtype", "device")


def _describe(student, array):
    got = student.call("describe", array)
    if not isinstance(got, dict) or set(got) != set(_KEYS):
        shown = sorted(got) if isinstance(got, dict) else type(got).__name__
        fail(f"describe(x) should return a dict with exactly the keys {list(_KEYS)}; got {shown}.")
    return got


def _is_int(value):
    return type(value) is int


@graded("ex08_describe_check", points=1)
def test_shape_ndim_numel_dtype(student, rng):
    """shape (a tuple), ndim, numel and the dtype's name, for float32 and uint8 arrays."""
    for dtype in (np.float32, np.uint8):
        shape = _shape(rng, int(rng.integers(1, 5)), 1, 6)
        values = rng.integers(0, 100, size=shape).astype(dtype)
        got = _describe(student, as_jax(values))
        shape_got = got["shape"]
        expect(isinstance(shape_got, tuple | list) and all(_is_int(n) for n in shape_got)
               and tuple(shape_got) == shape,
               f"describe(x)['shape'] should be {shape} for an array of that shape; got {shape_got!r:.80}.")
        expect(_is_int(got["ndim"]) and got["ndim"] == len(shape),
               f"describe(x)['ndim'] should be {len(shape)} (x.ndim); got {got['ndim']!r:.80}.")
        expect(_is_int(got["numel"]) and got["numel"] == int(np.prod(shape)),
               f"describe(x)['numel'] should be {int(np.prod(shape))}, the number of elements"
               f" (x.size, an attribute); got {got['numel']!r:.80}.")
        name = np.dtype(dtype).name
        expect(got["dtype"] == name,
               f"describe(x)['dtype'] should be the string {name!r} (x.dtype.name); got {got['dtype']!r:.80}.")


@graded("ex08_describe_check", points=1)
def test_device_id(student, rng):
    """device is the id of the device the array is committed to (or the default device, 0)."""
    values = rng.normal(size=_shape(rng, 2)).astype(np.float32)
    for device, array in ((1, as_jax(values, device=1)), (0, as_jax(values, device=0)), (0, as_jax(values))):
        got = _describe(student, array)["device"]
        expect(_is_int(got) and got == device,
               f"describe(x)['device'] should be {device} for an array on jax.devices('cpu')[{device}]"
               f" (x.device.id); got {got!r:.80}.", hint="committed_device")


# Exercise 9 -------------------------------------------------------------------------------------

@graded("ex09_set_column_check", points=1)
def test_set_float_column(student, rng):
    """Column j of a float32 matrix is set to value; the rest is unchanged."""
    rows, cols = _shape(rng, 2, 2, 8)
    values = rng.normal(size=(rows, cols)).astype(np.float32)
    j = int(rng.integers(0, cols))
    value = float(np.float32(rng.uniform(-10.0, 10.0)))
    want = torch.from_numpy(values.copy())
    want[:, j] = value
    got = student.call("set_column", as_jax(values), j, value)
    expect_array(got, want, what=f"set_column(x, {j}, value)")


@graded("ex09_set_column_check", points=1)
def test_set_int_column_negative_index(student, rng):
    """A negative column index counts from the end, and an int32 matrix stays int32."""
    rows, cols = _shape(rng, 2, 2, 8)
    values = rng.integers(-100, 100, size=(rows, cols)).astype(np.int32)
    j = -int(rng.integers(1, cols + 1))
    value = int(rng.integers(200, 300))
    want = torch.from_numpy(values.copy())
    want[:, j] = value
    got = student.call("set_column", as_jax(values), j, value)
    expect_array(got, want, what=f"set_column(x, {j}, value)")


# Exercise 10 ------------------------------------------------------------------------------------

def _scatter_case(student, rng, n, idx):
    x = rng.normal(size=n).astype(np.float32)
    v = rng.normal(size=idx.shape).astype(np.float32)
    want = torch.from_numpy(x.copy()).index_put_(
        (torch.from_numpy(idx).long(),), torch.from_numpy(v), accumulate=True)
    got = student.call("scatter_add", as_jax(x), as_jax(idx.astype(np.int32)), as_jax(v))
    return got, want


@graded("ex10_scatter_add_check", points=1)
def test_distinct_indices(student, rng):
    """With distinct indices, each v[k] is added at idx[k]."""
    n = int(rng.integers(5, 20))
    idx = rng.permutation(n)[: int(rng.integers(1, n + 1))]
    got, want = _scatter_case(student, rng, n, idx)
    expect_array(got, want, atol=1e-5, what="scatter_add(x, idx, v) with distinct indices")


@graded("ex10_scatter_add_check", points=2)
def test_repeated_indices_accumulate(student, rng):
    """Repeated indices add up, like torch's index_put_(..., accumulate=True)."""
    n = int(rng.integers(4, 10))
    idx = rng.integers(0, n, size=n + int(rng.integers(3, 10)))
    idx[-1] = idx[0]
    got, want = _scatter_case(student, rng, n, idx)
    right_kind = isinstance(got, StudentArray) and got.kind == "jax.Array" and got.shape == want.shape
    expect_array(got, want, atol=1e-5, what="scatter_add(x, idx, v) with repeated indices",
                 hints=["accumulate_duplicates"] if right_kind else [])
