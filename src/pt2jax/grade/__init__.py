"""Grade one notebook in one sandbox: the pipeline (:mod:`.pipeline`, a list of steps) and its parts:
:mod:`.restore` and :mod:`.audit` (the submission's cells), :mod:`.sandbox` and :mod:`.kernel` (running
it), :mod:`.wire`, :mod:`.kernel_side` and :mod:`.probe` (asking the live kernel for plain data),
:mod:`.locked` (what the master's locked cells define, kept from later cells' reach), :mod:`.observed`
(timings and traces seen in the kernel, cross-checked), :mod:`.judge` (hidden checks in the grader's
process), :mod:`.record` (verdicts into grade cells), :mod:`.sanitize` (no active content in the graded
notebook), :mod:`.seeding` (grade-time inputs).

Nothing is imported here, so that :mod:`pt2jax.checks` can use the wire types without pulling in the
pipeline; import the modules themselves, or the public names from :mod:`pt2jax`.
"""
