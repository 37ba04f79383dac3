# make demo: the whole pipeline on the embedded synthetic dataset, ending with a real LOSO evaluation.
#   1. mertool synth: 6 subjects x 6 clips in CASME II's layout, made from face photos that installed
#      packages ship (classes differ only by their micro-motion): astronaut, zidane and bus and their
#      mirror images, one subject each; grace_hopper is left out, held out for the recognition test
#      (tests/test_recognition_heldout.py), so that test scores on faces the demo never shows
#   2. detect-faces | spot-apex | crop-rois | flow, as a real shell pipe, into $(DEMO_DIR)/flow.h5
#   3. eval-loso with DFR-Net (paper 004): 6 leave-one-subject-out folds, pooled UF1/UAR, report + figures
# About 3 minutes on 2 cores after installation (the 10-minute budget leaves room for a slower machine).
# DEMO_SYNTH overrides the synth options, DEMO_EVAL the evaluation settings; DEMO_ARGS adds to them (e.g. DEMO_ARGS="--input-size 56").
DEMO_SYNTH ?= --photos astronaut,zidane,bus
DEMO_EVAL ?= --arch dfr-net --label-map megc2019 --input-size 32 --epochs 20 --lr 1e-3 --batch-size 8 --augment hflip,crop --seed 0

.PHONY: demo
demo: install
	@set -e -o pipefail; start=$$(date +%s); \
	rm -rf "$(DEMO_DIR)"; mkdir -p "$(DEMO_DIR)"; \
	echo "== 1/3 synthetic dataset: $(MERTOOL) synth $(DEMO_SYNTH) $(DEMO_DIR)/synth"; \
	$(MERTOOL) synth $(DEMO_SYNTH) "$(DEMO_DIR)/synth"; \
	echo "== 2/3 stages: detect-faces | spot-apex | crop-rois | flow -> $(DEMO_DIR)/flow.h5"; \
	$(MERTOOL) detect-faces "$(DEMO_DIR)/synth/CASME2" | $(MERTOOL) spot-apex | $(MERTOOL) crop-rois \
		| $(MERTOOL) flow -o "$(DEMO_DIR)/flow.h5" > /dev/null; \
	$(MERTOOL) inspect "$(DEMO_DIR)/flow.h5" --limit 3; \
	echo "== 3/3 leave-one-subject-out evaluation: $(MERTOOL) eval-loso $(DEMO_DIR)/flow.h5 $(DEMO_EVAL) $(DEMO_ARGS) -o $(DEMO_DIR)/results"; \
	$(MERTOOL) eval-loso "$(DEMO_DIR)/flow.h5" $(DEMO_EVAL) $(DEMO_ARGS) -o "$(DEMO_DIR)/results"; \
	echo; \
	echo "report:  $(DEMO_DIR)/results/report.md (per class, per fold, how it was made)"; \
	echo "figures: $(DEMO_DIR)/results/confusion.png, $(DEMO_DIR)/results/curves.png"; \
	echo "numbers: $(DEMO_DIR)/results/summary.json"; \
	echo "demo finished in $$(( $$(date +%s) - start )) s (chance UF1 for 3 balanced classes: about 0.33)"
