"""Hand-crafted micro-expression features: pure functions on numpy arrays, one module per idea.

* :mod:`.grid` — the block grid and the orientation bins the others share;
* :mod:`.lbp_top` — LBP-TOP (Zhao & Pietikäinen 2007) on a (T, H, W) gray volume;
* :mod:`.bi_woof` — Bi-WOOF (Liong et al. 2018) from onset -> apex flow and optical strain;
* :mod:`.hoof` — HOOF (magnitude-weighted orientation histograms) and MDMO (main-direction
  mean flow) per block.

Each returns a 1-D float64 vector whose length depends only on the options (never on the image
size), which is what the SVM models of :mod:`mertool.models.handcrafted` rely on.
"""
