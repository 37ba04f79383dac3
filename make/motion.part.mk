# Motion stage benchmarks (spot-apex, flow) on synthetic clips with ground truth; see docs/motion.md.
#   make bench-flow   flow stage pairs/s vs OpenCV TV-L1 defaults at 128 and 224, with endpoint errors
#   make bench-apex   apex error of dc-rois / flow-peak / middle against the true apex
BENCH_OUT ?= bench-out

.PHONY: bench-flow bench-apex

bench-flow: install
	$(PY) benchmarks/bench_flow.py --out $(BENCH_OUT)

bench-apex: install
	$(PY) benchmarks/bench_apex.py --out $(BENCH_OUT)
