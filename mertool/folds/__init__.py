"""The fold driver: plan a run's folds (:mod:`~mertool.folds.plan`), compute each on an executor
(:mod:`~mertool.folds.executors`, :mod:`~mertool.folds.fold`), write and resume them
(:mod:`~mertool.folds.results`), and report the pooled numbers (:mod:`~mertool.folds.report`).
:func:`mertool.folds.run.run_evaluation` is ``eval-loso`` as a function.

It sits above :mod:`mertool.training` (which trains one model on some rows) and
:mod:`mertool.evaluation` (pure scoring: protocols, metrics, comparison), and below the CLI, the
table runner and the Python API.
"""
