"""mertool: facial micro-expression recognition from datasets as shipped.

Stages (each a ``mertool`` subcommand reading and writing HDF5 sample files):
detect-faces -> spot-apex -> crop-rois -> flow -> train / eval-loso.
See README.md and docs/ for the whole picture.
"""

__version__ = "0.1.0"
