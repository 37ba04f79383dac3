# Face stage (detect-faces, crop-rois, show); see docs/face.md.
#   make bench-face   detect-faces + crop-rois frames/s vs a naive per-frame dlib script and vs JPEG decoding
#   make docs-rois    draw the region sets (15 ROIs, 5 AU regions, 3 D&C RoIs) on a real face: docs/figures/rois.png
BENCH_OUT ?= bench-out
FACE_BENCH_ARGS ?=

.PHONY: bench-face docs-rois

bench-face: install
	$(PY) benchmarks/bench_face.py --out $(BENCH_OUT) $(FACE_BENCH_ARGS)

docs-rois: install
	$(PY) -m mertool.visualize.regions docs/figures/rois.png
