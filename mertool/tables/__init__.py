"""Reproducing the seed papers' tables: their published numbers and the experiments behind each
``make table-*`` target (see shared TABLES.md and docs/tables.md)."""
