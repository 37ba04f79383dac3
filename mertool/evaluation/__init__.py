"""Evaluation: protocols (LOSO, k-fold, composite, split), pooled metrics, reports, plots, paired comparison."""
