"""Tests of pt2jax.grade.seeding: per-student, reproducible seeds from a course secret."""

from __future__ import annotations

import itertools
import os
import stat

import numpy as np
import pytest

from pt2jax.grade.seeding import SECRET_FILE, base_seed, check_seed, course_secret


@pytest.fixture
def no_env(monkeypatch):
    monkeypatch.delenv("PT2JAX_SECRET", raising=False)


def test_base_seed_is_deterministic_and_63_bit():
    a = base_seed("secret-a")
    assert a == base_seed("secret-a")
    assert isinstance(a, int)
    assert 0 <= a < 2**63
    assert a != base_seed("secret-b")
    assert base_seed("") != base_seed(" ")


def test_base_seed_does_not_reveal_the_secret():
    secret = "1234567890"
    assert base_seed(secret) != int(secret)
    assert secret not in str(base_seed(secret))


def test_check_seed_is_deterministic():
    base = base_seed("s")
    first = check_seed(base, "alice", "01_arrays", "test_creation::test_from_list")
    assert first == check_seed(base, "alice", "01_arrays", "test_creation::test_from_list")
    assert 0 <= first < 2**63
    a = np.random.default_rng(first).normal(size=4)
    b = np.random.default_rng(first).normal(size=4)
    np.testing.assert_array_equal(a, b)


def test_check_seed_differs_in_every_component():
    bases = [base_seed("s1"), base_seed("s2")]
    students = ["alice", "bob", "Alice"]
    assignments = ["01_arrays", "02_random"]
    checks = ["test_a::test_x", "test_a::test_y", "test_b::test_x"]
    seeds = [
        check_seed(*combo) for combo in itertools.product(bases, students, assignments, checks)
    ]
    assert len(set(seeds)) == len(seeds) == 2 * 3 * 2 * 3


def test_different_seeds_give_different_draws():
    base = base_seed("s")
    draws = {
        tuple(np.random.default_rng(check_seed(base, s, "01", "t::c")).integers(0, 2**31, size=4))
        for s in ("alice", "bob", "carol")
    }
    assert len(draws) == 3


def test_course_secret_created_once_with_mode_600(tmp_path, no_env):
    secret = course_secret(tmp_path)
    path = tmp_path / SECRET_FILE
    assert path.is_file()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert len(secret) == 64
    int(secret, 16)  # hex
    content = path.read_text()
    assert course_secret(tmp_path) == secret
    assert path.read_text() == content


def test_course_secret_differs_between_courses(tmp_path, no_env):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    assert course_secret(tmp_path / "a") != course_secret(tmp_path / "b")


def test_course_secret_reuses_existing_file(tmp_path, no_env):
    (tmp_path / SECRET_FILE).write_text("  my-course-secret \n")
    assert course_secret(tmp_path) == "my-course-secret"
    assert (tmp_path / SECRET_FILE).read_text() == "  my-course-secret \n"


def test_env_var_wins(tmp_path, monkeypatch):
    (tmp_path / SECRET_FILE).write_text("from-file\n")
    monkeypatch.setenv("PT2JAX_SECRET", "from-env")
    assert course_secret(tmp_path) == "from-env"


def test_env_var_wins_without_creating_a_file(tmp_path, monkeypatch):
    monkeypatch.setenv("PT2JAX_SECRET", "from-env")
    assert course_secret(tmp_path) == "from-env"
    assert not (tmp_path / SECRET_FILE).exists()


def test_empty_env_var_falls_back_to_file(tmp_path, monkeypatch):
    monkeypatch.setenv("PT2JAX_SECRET", "")
    secret = course_secret(tmp_path)
    assert secret == (tmp_path / SECRET_FILE).read_text().strip()
    assert secret


def test_secret_file_mode_ignores_permissive_umask(tmp_path, no_env):
    old = os.umask(0)
    try:
        course_secret(tmp_path)
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / SECRET_FILE).stat().st_mode) == 0o600


def test_check_seed_parts_cannot_run_together():
    base = base_seed("s")
    assert check_seed(base, "a|b", "c", "t::x") != check_seed(base, "a", "b|c", "t::x")
