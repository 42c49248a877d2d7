"""What ships to students: each ``kit/<name>.py`` is copied beside a released notebook as
``pt2jax_<name>.py`` when that notebook imports it (:func:`pt2jax.build.generate.kit_modules_used`).

Kit modules are standalone (no pt2jax imports): they run in the student's kernel, and the grader
imports them too so that the notebook's self-checks and the grader's feedback say the same words
(:mod:`.check`: misconception catalogue, array comparison, self-check helpers; :mod:`.fastconv`: the
CPU convolution opt-in).
"""
