"""Imported by the forkserver process that starts the detect-faces workers (see
:func:`mertool.face.clip.worker_context`): importing this module loads the models once, so every
worker forked from that server starts with them in memory."""

from mertool.face.clip import warm_models

warm_models()
