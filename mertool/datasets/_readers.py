"""Imports every reader module so that each registers itself (see base.register)."""
