"""The HDF5 store: the one package that reads and writes mertool sample files.

See :mod:`mertool.store.schema` for the layout and docs/schema.md for the prose version.
"""

from mertool.store import paths, schema
from mertool.store.paths import data_roots
from mertool.store.pipes import open_input, open_output, output_target
from mertool.store.provenance import input_record, sha256_file, sha256_manifest
from mertool.store.samplefile import SampleFile, SampleRecord, SampleWriter

__all__ = [
    "SampleFile",
    "SampleRecord",
    "SampleWriter",
    "data_roots",
    "input_record",
    "open_input",
    "open_output",
    "output_target",
    "paths",
    "schema",
    "sha256_file",
    "sha256_manifest",
]
