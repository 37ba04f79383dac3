# Long-video spotting benchmark (docs/spotting.md).
#   make bench-video   MEGC F1 (micro / macro / overall), distractors spotted, frames/s vs JPEG decode
BENCH_OUT ?= bench-out

.PHONY: bench-video

bench-video: install
	$(PY) benchmarks/bench_video.py --out $(BENCH_OUT)
