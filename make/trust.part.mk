# Trust under bad input and faults (issue 14; docs/errors.md).
#   make fuzz          the fuzz tests at the CI budget (derandomized, a few dozen examples each, < 1 min)
#   make fuzz-long     the same tests with HYPOTHESIS_PROFILE=long (hundreds of random examples
#                      each, failures shrunk and kept in .cache/hypothesis to replay); ~30-60 min
#   make faults        kill -9 + --resume, full disk, read-only output, two runs on one -o (~2 min)
#   make reproducible  the demo's chain twice with different worker counts (~2 min)
# The fuzz tests run under a 6 GB address-space limit: a reader that allocates per frame *number*
# rather than per frame (an offset of 10**12 in a sheet) fails the test instead of the machine.
FUZZ_TESTS := tests/test_fuzz_readers.py tests/test_fuzz_samplefile.py tests/test_fuzz_frames.py
FUZZ_MEMORY_KB ?= 6000000

.PHONY: fuzz fuzz-long faults reproducible

fuzz: install
	ulimit -v $(FUZZ_MEMORY_KB); $(PY) -m pytest -q $(FUZZ_TESTS) $(PYTEST_ARGS)

fuzz-long: install
	ulimit -v $(FUZZ_MEMORY_KB); HYPOTHESIS_PROFILE=long $(PY) -m pytest -q $(FUZZ_TESTS) \
		--hypothesis-show-statistics $(PYTEST_ARGS)

faults: install
	$(PY) -m pytest -q tests/test_faults.py $(PYTEST_ARGS)

reproducible: install
	$(PY) -m pytest -q -rxX tests/test_reproducible.py $(PYTEST_ARGS)
