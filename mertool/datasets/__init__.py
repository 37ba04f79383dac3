"""Dataset readers: every supported dataset read exactly as its owners ship it.

Importing this package registers every reader (see :mod:`mertool.datasets.base`). One module per
dataset; ``labels`` holds the label maps, ``tables`` the sheet reading, ``frames`` frame files.
"""

# Reader modules register themselves on import; keep this list in step with the modules.
from mertool.datasets import _readers  # noqa: F401,E402  (imports every reader module)
from mertool.datasets.base import DatasetRead, Quirk, Sample, open_dataset, readers

__all__ = ["DatasetRead", "Quirk", "Sample", "open_dataset", "readers"]
