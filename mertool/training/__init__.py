"""Training: data loading from sample files, augmentation, losses, the loop, presets, model files."""
