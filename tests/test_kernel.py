"""pt2jax.grade.kernel (the execute step): time limits, a dead kernel, probing after trouble."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest

from pt2jax.config import Limits
from pt2jax.errors import StudentCrashed, StudentTimeout
from pt2jax.grade.kernel import Kernel
from pt2jax.grade.probe import KernelStudent

LIMITS = Limits(cell_timeout_s=3, notebook_timeout_s=20, call_timeout_s=3, interrupt_grace_s=4)


def _nb(*sources: str) -> nbformat.NotebookNode:
    return nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(s) for s in sources])


def test_infinite_loop_is_stopped_and_later_cells_still_run(tmp_path: Path) -> None:
    nb = _nb("while True:\n    pass", "def f(x):\n    return x * 2", "1/0")
    with Kernel(nb, tmp_path, LIMITS) as kernel:
        report = kernel.run_notebook()
        assert [(i.index, i.kind) for i in report.issues] == [(0, "timeout"), (2, "error")]
        assert KernelStudent(kernel, 3).call("f", 21) == 42


def test_loop_that_swallows_interrupts_costs_the_kernel_not_the_grader(tmp_path: Path) -> None:
    nb = _nb("import time\nwhile True:\n    try:\n        time.sleep(0.1)\n    except KeyboardInterrupt:\n        pass",
             "x = 1")
    with Kernel(nb, tmp_path, LIMITS) as kernel:
        report = kernel.run_notebook()
        assert [i.kind for i in report.issues] == ["timeout", "skipped"]
        with pytest.raises(StudentCrashed):
            KernelStudent(kernel, 3).call("f")


def test_exit_in_a_cell_is_reported(tmp_path: Path) -> None:
    nb = _nb("import os\nos._exit(3)", "x = 1")
    with Kernel(nb, tmp_path, LIMITS) as kernel:
        report = kernel.run_notebook()
        assert [i.kind for i in report.issues] == ["kernel_died", "skipped"]


def test_slow_call_times_out(tmp_path: Path) -> None:
    nb = _nb("import time\ndef slow():\n    time.sleep(60)\ndef fast():\n    return 'ok'")
    with Kernel(nb, tmp_path, LIMITS) as kernel:
        kernel.run_notebook()
        student = KernelStudent(kernel, 2)
        with pytest.raises(StudentTimeout):
            student.call("slow")
        assert student.call("fast") == "ok"


def test_notebook_limit_skips_the_rest(tmp_path: Path) -> None:
    limits = Limits(cell_timeout_s=3, notebook_timeout_s=3, call_timeout_s=3)
    nb = _nb("import time\ntime.sleep(2)", "time.sleep(10)", "x = 1")
    with Kernel(nb, tmp_path, limits) as kernel:
        report = kernel.run_notebook()
        assert [i.kind for i in report.issues] == ["timeout", "skipped"]


def test_the_kernel_knows_it_is_grading(tmp_path: Path) -> None:
    """PT2JAX_GRADING=1 in the kernel's environment (04 skips its demo training run on it)."""
    nb = _nb("import os\ngrading = os.environ.get('PT2JAX_GRADING')")
    with Kernel(nb, tmp_path, LIMITS) as kernel:
        kernel.run_notebook()
        assert KernelStudent(kernel, 3).get("grading") == "1"
