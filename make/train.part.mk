# Training and evaluation benchmarks (train, eval-loso, predict); see docs/training.md.
#   make bench-train   DFR-Net (3 stages, 56x56) training samples/s: 1 process x 2 threads vs 2 processes x 1 thread
#   make bench-infer   one clip, flow included (onset + apex frames in, label out): ms per clip per backend
BENCH_OUT ?= bench-out
TRAIN_BENCH_ARGS ?=
INFER_BENCH_ARGS ?=

.PHONY: bench-train bench-infer

bench-train: install
	$(PY) benchmarks/bench_train.py --out $(BENCH_OUT) $(TRAIN_BENCH_ARGS)

bench-infer: install
	$(PY) benchmarks/bench_infer.py --out $(BENCH_OUT) $(INFER_BENCH_ARGS)

# Recognition benchmark (issue 13): every fast paper model and hand-crafted baseline, LOSO on a held-out
# synthetic set (8 subjects x 12 clips, seed 4242), defaults only; RECOGNITION_BENCH_ARGS="--models all --presets" adds
# the ImageNet-size networks and the paper presets (hours on 2 CPU cores).
RECOGNITION_BENCH_ARGS ?=
.PHONY: bench-recognition
bench-recognition: install
	$(PY) benchmarks/bench_recognition.py --out $(BENCH_OUT) $(RECOGNITION_BENCH_ARGS)
