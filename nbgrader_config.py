"""nbgrader configuration of the pt2jax course (this repository is an nbgrader course directory)."""

import os

from nbgrader.preprocessors import (
    AssignLatePenalties,
    CheckCellMetadata,
    GetGrades,
    IgnorePattern,
    LimitOutput,
    SaveAutoGrades,
)
from nbconvert.preprocessors import ClearMetadataPreprocessor, CSSHTMLHeaderPreprocessor

from pt2jax.build.formgrader import CanonicalNotebookExporter, restage_before_convert, stage_stale_sources
from pt2jax.course.feedback import ExerciseTitles, template_dirs
from pt2jax.course.nbgrader_plugin import PipelineGrade

c = get_config()  # noqa: F821  (injected by nbgrader)
here = os.path.dirname(os.path.abspath(__file__))

c.CourseDirectory.course_id = "pt2jax"
c.CourseDirectory.root = here
c.CourseDirectory.solution_directory = "solutions"
# The jupytext .md in source/<assignment>/ holds the solutions: never copy it to students or graders.
c.CourseDirectory.ignore = [".ipynb_checkpoints", "*.pyc", "__pycache__", "feedback", "*.md", "DRAFT"]
# The exchange lives in the project (gitignored; `make lab` creates it world-writable as nbgrader
# wants); PT2JAX_EXCHANGE points instructor and student at another one (the e2e test uses a temp dir).
c.Exchange.root = os.environ.get("PT2JAX_EXCHANGE") or os.path.join(here, "exchange")
# generate_solution executes the solution notebook; JAX compiles need more than the 30 s default.
c.Execute.timeout = 300
# Submissions are rendered as HTML in the formgrader and in feedback: a student's <script> or
# javascript output must not run with the instructor's session (the grader also strips them from the
# graded notebook: pt2jax/grade/sanitize.py).
c.HTMLExporter.sanitize_html = True

# A fresh clone has no source/<a>/<a>.ipynb (generated, not committed): stage the missing ones, so
# plain `nbgrader generate_assignment` works too.
stage_stale_sources(here)

# Generation (`pt2jax build`, `nbgrader generate_*` and the formgrader's generate button alike):
# the notebook is restaged from source/<a>/<a>.md right before nbgrader reads it, and written in the
# canonical form committed in release/, so release/ and solutions/ cannot drift from the .md.
for converter in (c.GenerateAssignment, c.GenerateSolution):
    converter.pre_convert_hook = restage_before_convert
    converter.exporter_class = CanonicalNotebookExporter

# Autograde: our pipeline (restore, sandboxed execute, probe, judge, record) replaces nbgrader's
# in-kernel Execute, so no verdict depends on the student's kernel reporting on itself.
c.Autograde.autograde_preprocessors = [
    PipelineGrade,
    IgnorePattern,
    ClearMetadataPreprocessor,
    LimitOutput,
    SaveAutoGrades,
    AssignLatePenalties,
    CheckCellMetadata,
]

# Feedback (`nbgrader generate_feedback` and the formgrader's button): each graded cell is listed under
# its exercise's heading (nbgrader's template says "Test cell" for every one).
c.GenerateFeedback.preprocessors = [GetGrades, ExerciseTitles, CSSHTMLHeaderPreprocessor]
c.HTMLExporter.extra_template_basedirs = template_dirs()
