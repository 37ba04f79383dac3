"""Motion: apex spotting (D&C-RoIs LBP and others), optical flow, optical strain, difference images."""
