# Long-video spotting benchmark (docs/spotting.md).
#   make bench-video   MEGC F1 (micro / macro / overall), distractors spotted, frames/s vs JPEG decode,
#                      and at 640x480 (30 and 200 fps): decode vs naive dlib script vs spot path, time per part
BENCH_OUT ?= bench-out
# VIDEO_BENCH_ARGS= (empty) leaves the 640x480 speed section out
VIDEO_BENCH_ARGS ?= --speed-size 640x480

.PHONY: bench-video

bench-video: install
	$(PY) benchmarks/bench_video.py --out $(BENCH_OUT) $(VIDEO_BENCH_ARGS)
