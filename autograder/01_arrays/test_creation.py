"""Hidden checks for Part 1 of 01_arrays: making arrays (exercises 1 to 5)."""

import numpy as np
import torch

from pt2jax.checks import as_jax, as_torch, expect_array, expect_tuple, graded


def _shape(rng, ndim, low=2, high=7):
    return tuple(int(n) for n in rng.integers(low, high, size=ndim))


# Exercise 1 -------------------------------------------------------------------------------------

@graded("ex01_from_list_check", points=1)
def test_list_of_ints_is_int32(student, rng):
    """A nested list of Python ints becomes an int32 jax.Array."""
    data = rng.integers(-1000, 1000, size=_shape(rng, 2)).tolist()
    got = student.call("from_list", data)
    expect_array(got, torch.tensor(data), dtype="int32", what="from_list(a list of ints)")


@graded("ex01_from_list_check", points=1)
def test_list_of_floats_is_float32(student, rng):
    """A nested list of Python floats becomes a float32 jax.Array."""
    data = rng.normal(scale=10.0, size=_shape(rng, 3, 2, 5)).tolist()
    got = student.call("from_list", data)
    expect_array(got, torch.tensor(data), dtype="float32", what="from_list(a list of floats)")


# Exercise 2 -------------------------------------------------------------------------------------

@graded("ex02_copy_to_jax_check", points=1)
def test_numpy_arrays_are_narrowed(student, rng):
    """NumPy float64/int64 arrays become float32/int32 jax.Arrays with the same values."""
    floats = rng.normal(size=_shape(rng, 2))
    got = student.call("copy_to_jax", floats)
    expect_array(got, torch.from_numpy(floats).float(), dtype="float32",
                 what="copy_to_jax(a float64 NumPy array)")
    ints = rng.integers(-10**6, 10**6, size=_shape(rng, 3, 1, 5))
    got = student.call("copy_to_jax", ints)
    expect_array(got, torch.from_numpy(ints).int(), dtype="int32",
                 what="copy_to_jax(an int64 NumPy array)")


@graded("ex02_copy_to_jax_check", points=1)
def test_torch_tensors_are_copied(student, rng):
    """CPU torch tensors (float32, float64, int64) become jax.Arrays with JAX's default dtypes."""
    cases = [
        (rng.normal(size=_shape(rng, 2)).astype(np.float32), "float32"),
        (rng.normal(size=_shape(rng, 1)), "float32"),
        (rng.integers(-10**6, 10**6, size=_shape(rng, 2)), "int32"),
    ]
    for values, dtype in cases:
        tensor = torch.from_numpy(values)
        got = student.call("copy_to_jax", as_torch(values))
        expect_array(got, tensor, dtype=dtype, what=f"copy_to_jax(a torch {str(tensor.dtype)[6:]} tensor)")
    values = rng.normal(size=_shape(rng, 2)).astype(np.float32)  # the text: "possibly with requires_grad=True"
    got = student.call("copy_to_jax", as_torch(values, requires_grad=True))
    expect_array(got, torch.from_numpy(values), dtype="float32",
                 what="copy_to_jax(a float32 torch tensor with requires_grad=True)")


# Exercise 3 -------------------------------------------------------------------------------------

@graded("ex03_dlpack_check", points=1)
def test_torch_to_jax(student, rng):
    """torch_to_jax gives a jax.Array with the tensor's values and shape (int64 arrives as int32)."""
    cases = [
        (rng.normal(size=_shape(rng, 2)).astype(np.float32), "float32"),
        (rng.integers(-1000, 1000, size=_shape(rng, 3, 1, 5)).astype(np.int32), "int32"),
        (rng.integers(-1000, 1000, size=_shape(rng, 1)), "int32"),
    ]
    for values, dtype in cases:
        tensor = torch.from_numpy(values)
        got = student.call("torch_to_jax", as_torch(values))
        expect_array(got, tensor, dtype=dtype, what=f"torch_to_jax(a torch {str(tensor.dtype)[6:]} tensor)")
    values = rng.normal(size=_shape(rng, 2)).astype(np.float32)  # the text: "possibly requiring grad"
    got = student.call("torch_to_jax", as_torch(values, requires_grad=True))
    expect_array(got, torch.from_numpy(values), dtype="float32",
                 what="torch_to_jax(a float32 torch tensor with requires_grad=True)")


@graded("ex03_dlpack_check", points=1)
def test_jax_to_torch(student, rng):
    """jax_to_torch gives a torch.Tensor with the array's values, shape and dtype."""
    cases = [
        rng.normal(size=_shape(rng, 2)).astype(np.float32),
        rng.integers(-1000, 1000, size=_shape(rng, 1)).astype(np.int32),
    ]
    for values in cases:
        got = student.call("jax_to_torch", as_jax(values))
        expect_array(got, torch.from_numpy(values), kind="torch.Tensor",
                     what=f"jax_to_torch(a {values.dtype} jax.Array)")


# Exercise 4 -------------------------------------------------------------------------------------

def _check_like(student, values, fill):
    tensor = torch.from_numpy(values)
    got = expect_tuple(student.call("like", as_jax(values), fill), 3, "like(x, value)")
    wants = (torch.zeros_like(tensor), torch.ones_like(tensor), torch.full_like(tensor, fill))
    for name, part, want in zip(("zeros", "ones", "filled"), got, wants, strict=True):
        expect_array(part, want, what=f"{name} for a {values.dtype} x of shape {values.shape}")


@graded("ex04_like_check", points=1)
def test_like_int32(student, rng):
    """zeros/ones/full_like keep an int32 x's shape and dtype."""
    values = rng.integers(-50, 50, size=_shape(rng, 2)).astype(np.int32)
    _check_like(student, values, int(rng.integers(2, 100)))


@graded("ex04_like_check", points=1)
def test_like_float32(student, rng):
    """zeros/ones/full_like keep a float32 x's shape and dtype."""
    values = rng.normal(size=_shape(rng, 3, 1, 5)).astype(np.float32)
    _check_like(student, values, float(np.float32(rng.uniform(-10.0, 10.0))))


# Exercise 5 -------------------------------------------------------------------------------------

@graded("ex05_exact_sum_check", points=1)
def test_sum_beyond_int32(student, rng):
    """int32-sized numbers whose sum overflows int32 are summed exactly, as int64."""
    values = rng.integers(10**8, 2 * 10**9, size=int(rng.integers(20, 200)))
    got = student.call("exact_sum", values)
    # an int32 result gets the x64_not_enabled hint from expect_array itself (as in the self-check)
    expect_array(got, torch.from_numpy(values).sum(), dtype="int64", what="exact_sum(values)")


@graded("ex05_exact_sum_check", points=1)
def test_numbers_beyond_int32(student, rng):
    """Numbers that themselves do not fit in int32 are summed exactly, as int64."""
    values = rng.integers(3 * 10**9, 10**12, size=int(rng.integers(5, 100)))
    values[0] = -values[0]
    got = student.call("exact_sum", values)
    expect_array(got, torch.from_numpy(values).sum(), dtype="int64", what="exact_sum(values)")
