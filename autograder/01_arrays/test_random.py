"""Hidden checks for Part 2 of 01_arrays: PRNG keys (exercises 6 and 7)."""

import jax
import numpy as np

from pt2jax.checks import (
    StudentArray,
    call_fresh,
    expect,
    expect_array,
    expect_tuple,
    expect_unrelated,
    graded,
    prng_key,
    show,
)


def _vector(got, n, what):
    """Fail unless got is a float32 jax.Array of shape (n,); return its values as float64."""
    ok = (isinstance(got, StudentArray) and got.kind == "jax.Array" and got.dtype == "float32"
          and got.shape == (n,))
    expect(ok, f"{what} should be a float32 jax.Array of shape ({n},); got {show(got)}.")
    return got.value.astype(np.float64)


def _same(a, b):
    return bool(np.array_equal(a, b))


def _seeds(rng, k):
    """k distinct seeds."""
    seeds = []
    while len(seeds) < k:
        seed = int(rng.integers(0, 2**31 - 1))
        if seed not in seeds:
            seeds.append(seed)
    return seeds


# Exercise 6 -------------------------------------------------------------------------------------

@graded("ex06_two_draws_check", points=1)
def test_same_key_same_normal_numbers(student, rng):
    """Two float32 N(0, 1) vectors of length n, identical when the key is the same: in the same kernel,
    after calls with other keys, and in a fresh process (the numbers come from the key alone)."""
    seed, other = _seeds(rng, 2)
    n = int(rng.integers(300, 600))
    student.call("two_draws", prng_key(other), n)  # kernel state moves on; the key's numbers must not
    first = expect_tuple(student.call("two_draws", prng_key(seed), n), 2, "two_draws(key, n)")
    again = expect_tuple(student.call("two_draws", prng_key(seed), n), 2, "two_draws(key, n)")
    for name, a, b in zip("ab", first, again, strict=True):
        values = _vector(a, n, f"draw {name}")
        _vector(b, n, f"draw {name}")
        expect(_same(a.value, b.value),
               f"Draw {name} changed between two calls with the same key: the numbers must come"
               " from the key alone (no global seed, no NumPy or torch randomness).")
        expect(abs(values.mean()) < 0.4 and 0.6 < values.std() < 1.5,
               f"Draw {name} does not look standard normal (mean {values.mean():.3f}, std"
               f" {values.std():.3f} over {n} numbers): use jax.random.normal.")
    fresh = expect_tuple(call_fresh(student, "two_draws", prng_key(seed), n), 2, "two_draws(key, n)")
    for name, a, b in zip("ab", first, fresh, strict=True):
        _vector(b, n, f"draw {name} in a fresh process")
        expect(_same(a.value, b.value),
               f"Draw {name} for the same key differs between your kernel and a fresh Python process that ran"
               " your notebook's code: the numbers depend on something besides the key (a cache, a global"
               " generator such as NumPy's or torch's). Derive them from the key alone.", hint="reused_key")


@graded("ex06_two_draws_check", points=1)
def test_the_two_draws_differ(student, rng):
    """The two draws use different subkeys, so their numbers differ."""
    (seed,) = _seeds(rng, 1)
    n = int(rng.integers(300, 600))
    a, b = expect_tuple(student.call("two_draws", prng_key(seed), n), 2, "two_draws(key, n)")
    va, vb = _vector(a, n, "draw a"), _vector(b, n, "draw b")
    expect(not np.allclose(va, vb),
           "The two draws are identical: the same key was used for both. Split the key and give"
           " each draw its own subkey.", hint="reused_key")
    expect_unrelated(va, vb, "two_draws(key, n)", hint="reused_key")


@graded("ex06_two_draws_check", points=1)
def test_other_keys_other_numbers(student, rng):
    """Different keys give different numbers."""
    s1, s2 = _seeds(rng, 2)
    n = int(rng.integers(5, 50))
    a1, _ = expect_tuple(student.call("two_draws", prng_key(s1), n), 2, "two_draws(key, n)")
    a2, _ = expect_tuple(student.call("two_draws", prng_key(s2), n), 2, "two_draws(key, n)")
    expect(not np.allclose(_vector(a1, n, "draw a"), _vector(a2, n, "draw a")),
           "Two different keys gave the same numbers: derive the draws from the key you are given"
           " instead of a fixed seed.", hint="reused_key")


# Exercise 7 -------------------------------------------------------------------------------------

@graded("ex07_step_noise_check", points=1)
def test_matches_fold_in(student, rng):
    """step_noise(key, step, n) is uniform(fold_in(key, step), (n,))."""
    (seed,) = _seeds(rng, 1)
    step = int(rng.integers(0, 10**6))
    n = int(rng.integers(3, 40))
    got = student.call("step_noise", prng_key(seed), step, n)
    want = np.asarray(jax.random.uniform(jax.random.fold_in(jax.random.key(seed), step), (n,)))
    expect_array(got, want, dtype="float32", what=f"step_noise(key, {step}, {n})",
                 hints=["reused_key"])


@graded("ex07_step_noise_check", points=1)
def test_steps_and_keys_give_their_own_numbers(student, rng):
    """Same (key, step) repeats; another step or another key gives other numbers."""
    s1, s2 = _seeds(rng, 2)
    step = int(rng.integers(0, 1000))
    n = int(rng.integers(5, 40))
    base = _vector(student.call("step_noise", prng_key(s1), step, n), n, "step_noise(key, step, n)")
    again = _vector(student.call("step_noise", prng_key(s1), step, n), n, "step_noise(key, step, n)")
    expect(_same(base, again), "The same key and step gave different numbers on two calls.")
    next_step = _vector(student.call("step_noise", prng_key(s1), step + 1, n), n, "step_noise")
    expect(not np.allclose(base, next_step),
           f"Steps {step} and {step + 1} gave the same numbers: fold the step into the key.",
           hint="reused_key")
    other_key = _vector(student.call("step_noise", prng_key(s2), step, n), n, "step_noise")
    expect(not np.allclose(base, other_key),
           "Two different keys gave the same numbers for the same step: start from the key you are"
           " given, not from a seed made from the step.", hint="reused_key")
