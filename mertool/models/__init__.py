"""The model zoo: every architecture of the five papers behind one registry (:mod:`.registry`)."""

from mertool.models.registry import build_model, model_names, model_spec

__all__ = ["build_model", "model_names", "model_spec"]
