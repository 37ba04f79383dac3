# Paper 000's face detector (YOLOv8s + C2f_Star / CBAM / CAA on ultralytics); see docs/detector.md.
#   make detector-models                      parameters and GFLOPs of every detector YAML vs YOLOv8s (11.2M / 28.6)
#   make bench-detector                       train on the synthetic WIDER FACE set (CPU, minutes), print mAP@0.5
#   make table-000-2 WIDERFACE=/path/to/widerface   T2 ablation (and table-000-4, -smoke twins): make/tables.part.mk
BENCH_OUT ?= bench-out
DETECTOR_DEVICE ?= auto
DETECTOR_ARGS ?=

.PHONY: detector-models bench-detector

detector-models: install
	$(MERTOOL) detector models

bench-detector: install
	$(PY) benchmarks/bench_detector.py --out $(BENCH_OUT) $(DETECTOR_ARGS)
