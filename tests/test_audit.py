"""The audit flags what code reaches for (the grader, the runtime, the kernel side), not words; curiosities
are informational (``unusual_code``) and never ask for manual grading."""

from __future__ import annotations

import pytest

from pt2jax.course.gradebook import REVIEW_FLAGS
from pt2jax.grade.audit import audit_cells


def _kinds(source: str) -> set[str]:
    return {f.kind for f in audit_cells([{"cell_type": "code", "source": source, "metadata": {}}])}


HONEST = {
    "setattr_stages": ('class M:\n    def __init__(self):\n        for i in range(4):\n'
                       '            setattr(self, f"layer{i}", i)'),
    "pickle_save": "import pickle\nwith open('state.pkl', 'wb') as f:\n    pickle.dump({'w': 1}, f)",
    "points_docstring": 'def f(x):\n    """Evaluate the spline at the points x."""\n    return x',
    "flax_kernel": "model.conv.kernel[...] = w",
    "environ": "import os\nos.environ['XLA_FLAGS'] = '--xla_cpu_multi_thread_eigen=false'",
}
CURIOUS = {
    "except_interrupt": "try:\n    train()\nexcept KeyboardInterrupt:\n    pass",
    "magic": 'get_ipython().run_line_magic("matplotlib", "inline")',
    "timeit": "import timeit\nprint(timeit.timeit('1 + 1'))",
    "own_tests_passed": "print('all tests passed')",
}
REACHING = {
    "jax_dict": 'import jax\njax.__dict__["jit"] = lambda f: f',
    "setattr_module": 'import jax\nsetattr(jax, "grad", None)',
    "vars_module": 'import jax.numpy as jnp\nvars(jnp)["allclose"] = None',
    "sys_modules": "import sys\nsys.modules['jax'] = None",
    "patch_attr": "import time\ntime.perf_counter = lambda: 0.0",
    "exec_hidden": "exec(''.join(['import os; os._', 'exit(0)']))",
    "exec_const": "exec('import os\\nos._exit(0)')",
    "score_text": "print('Hidden checks: 3 / 3 points')",
    "user_ns": "get_ipython().user_ns['__pt2jax_probe__'] = print",
    "raise_exit": "raise SystemExit(1)",
    "gradebook": "open('../gradebook.db')",
    "fallocate": "import os\nos.posix_fallocate(3, 0, 2**32)",
}


@pytest.mark.parametrize("name", sorted(HONEST))
def test_ordinary_code_is_not_flagged(name: str) -> None:
    assert _kinds(HONEST[name]) == set()


@pytest.mark.parametrize("name", sorted(CURIOUS))
def test_curiosities_are_informational(name: str) -> None:
    assert _kinds(CURIOUS[name]) == {"unusual_code"}
    assert "unusual_code" not in REVIEW_FLAGS


@pytest.mark.parametrize("name", sorted(REACHING))
def test_code_reaching_for_grader_or_runtime_is_flagged_for_review(name: str) -> None:
    assert "suspicious_code" in _kinds(REACHING[name])
    assert "suspicious_code" in REVIEW_FLAGS
