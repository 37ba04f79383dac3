# make models-table: published parameter counts and FLOPs beside ours (paper 002 T7, paper 004 T5/T7/T9,
# SE-ResNet-50 / SE-ResNeXt-50 of Hu et al.), at each paper's input size. No dataset needed (docs/models.md).
.PHONY: models-table models-table-smoke

models-table: install
	@mkdir -p results
	$(MERTOOL) models table --markdown > results/models-table.md
	$(MERTOOL) models table --csv > results/models-table.csv
	@cat results/models-table.md

# The same code path is already dataset-free and takes seconds: the smoke twin is the target itself.
models-table-smoke: models-table
