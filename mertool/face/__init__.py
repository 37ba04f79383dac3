"""Faces: detectors (one module per backend), 68 dlib landmarks, alignment, ROI geometry."""
