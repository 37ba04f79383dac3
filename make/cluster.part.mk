# Folds on Ray (issue 15; docs/cluster.md).
#   make bench-cluster   local executor vs a local Ray instance (6-fold LOSO), a simulated 3-node cluster
#                        losing a node mid-run, the executor's cost per fold; bench-out/cluster.md
BENCH_OUT ?= bench-out
CLUSTER_BENCH_ARGS ?=

.PHONY: bench-cluster

bench-cluster: install
	$(PY) benchmarks/bench_cluster.py --out $(BENCH_OUT) $(CLUSTER_BENCH_ARGS)
