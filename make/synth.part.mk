# mertool synth: the synthetic micro-expression dataset (docs/synth.md).
#   make synth-demo-data   write $(DEMO_DIR)/synth (CASME II layout + synth_truth.h5) once; make demo reads it
#   make synth-sheet       draw docs/figures/synth_clip.png, one clip per class (README figure)
SYNTH_DIR ?= $(DEMO_DIR)/synth
SYNTH_ARGS ?=
SYNTH_SHEET_DIR := .cache/synth-sheet

.PHONY: synth-demo-data

synth-demo-data: $(SYNTH_DIR)/synth_truth.h5

# Rebuilt only when missing (or after `make clean`); SYNTH_ARGS="--subjects 12" scales it up.
$(SYNTH_DIR)/synth_truth.h5: $(STAMP)
	$(MERTOOL) synth $(SYNTH_DIR) --overwrite $(DEMO_SYNTH) $(SYNTH_ARGS)

synth-sheet: install
	rm -rf $(SYNTH_SHEET_DIR)
	$(MERTOOL) --quiet synth $(SYNTH_SHEET_DIR) --subjects 2 --clips-per-subject 4 --seed 0
	$(PY) -m mertool.synth.sheet $(SYNTH_SHEET_DIR)/synth_truth.h5 docs/figures/synth_clip.png
