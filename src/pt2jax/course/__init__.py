"""Class-level work on an nbgrader course: submissions (:mod:`.submissions`), the resumable batch
(:mod:`.batch`), the nbgrader preprocessor that grades through pt2jax (:mod:`.nbgrader_plugin`), flags
into the gradebook (:mod:`.gradebook`), reports, tables and plots (:mod:`.reports`, :mod:`.tables`,
:mod:`.plots`), and the sample class (:mod:`.demo`).

Nothing is imported here: ``nbgrader_config.py`` loads :mod:`.nbgrader_plugin` in every nbgrader
command, and it should not pay for the rest.
"""
