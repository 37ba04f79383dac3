# Paper 000's face detector (YOLOv8s + C2f_Star / CBAM / CAA on ultralytics); see docs/detector.md.
#   make detector-models                      parameters and GFLOPs of every detector YAML vs YOLOv8s (11.2M / 28.6)
#   make bench-detector                       train on the synthetic WIDER FACE set (CPU, minutes), print mAP@0.5
#   make table-000-2 WIDERFACE=/path/to/widerface   T2 ablation: prepare + train + eval, results/table-000-2.md/.csv
#   make table-000-4 WIDERFACE=/path/to/widerface   T4 detector row (yolov8s-C2f-Star-CAA)
#   make table-000-2-smoke / table-000-4-smoke      the same code path on a synthetic WIDER FACE set
WIDERFACE ?=
RESULTS ?= results
BENCH_OUT ?= bench-out
DETECTOR_DEVICE ?= auto
DETECTOR_ARGS ?=

.PHONY: detector-models bench-detector table-000-2 table-000-4 table-000-2-smoke table-000-4-smoke

detector-models: install
	$(MERTOOL) detector models

bench-detector: install
	$(PY) benchmarks/bench_detector.py --out $(BENCH_OUT) $(DETECTOR_ARGS)

table-000-2 table-000-4: install
	@test -n "$(WIDERFACE)" || { echo "$@ needs the WIDER FACE root: make $@ WIDERFACE=/path/to/widerface" >&2; exit 2; }
	$(PY) -m mertool.detector.paper_tables $@ --wider "$(WIDERFACE)" --out $(RESULTS) --device $(DETECTOR_DEVICE) $(DETECTOR_ARGS)

table-000-2-smoke table-000-4-smoke: install
	$(PY) -m mertool.detector.paper_tables $(@:-smoke=) --smoke --out $(RESULTS) --device cpu
