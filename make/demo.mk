# make demo: the whole pipeline on the embedded synthetic dataset (see README "What make demo does").
demo: install
	$(MERTOOL) doctor
