"""Class-level work on an nbgrader course: submissions (:mod:`.submissions`), the class graded on Dask
with the client as the one gradebook writer (:mod:`.batch`, :mod:`.cluster`, :mod:`.bundle` what a
worker is sent, :mod:`.spool` what came back), the nbgrader preprocessor that grades through pt2jax
(:mod:`.nbgrader_plugin`), nbgrader's configuration as pt2jax reads it (:mod:`.nbconfig`), flags into
the gradebook (:mod:`.gradebook`), reports, statistics, exports, tables and plots (:mod:`.reports`,
:mod:`.stats`, :mod:`.export`, :mod:`.tables`, :mod:`.plots`), a synthetic class (:mod:`.synthetic`)
and the sample class (:mod:`.demo`).

Nothing is imported here: ``nbgrader_config.py`` loads :mod:`.nbgrader_plugin` in every nbgrader
command, and it should not pay for the rest.
"""
