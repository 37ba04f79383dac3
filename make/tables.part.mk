# The seed papers' tables, one target each (docs/tables.md; `mertool tables list`).
#   make table-004-3 CASME2=/data/CASME2 SAMM=/data/SAMM SMIC=/data/SMIC   real run: results/table-004-3.md/.csv
#   make table-004-3-smoke                     the same commands on tiny synthetic data (seconds)
#   make tables-smoke                          all 17 smoke twins (CI runs this), a few minutes on 2 cores
#   make tables-list                           every target, the dataset roots it needs, its rows
#   make table-004-3 ... TABLES_EXECUTOR=ray [RAY_ADDRESS=auto|HOST:PORT|ray://HOST:PORT]
#                                              every row's folds at once as Ray tasks (docs/cluster.md);
#                                              no RAY_ADDRESS: a local Ray instance on this machine
# Dataset roots (only the ones a target needs): CASME2 SAMM SMIC CKPLUS RAFDB WIDERFACE.
# Real targets resume: finished rows and folds under $(RESULTS)/ are kept (delete $(RESULTS)/runs to redo
# them); prepared inputs are cached in $(RESULTS)/cache. Smoke twins recompute their runs every time.
CASME2 ?=
SAMM ?=
SMIC ?=
CKPLUS ?=
RAFDB ?=
WIDERFACE ?=
RESULTS ?= results
TABLES_DEVICE ?= auto
TABLES_ARGS ?=
TABLES_EXECUTOR ?= local
RAY_ADDRESS ?=
TABLES_RUN = --executor $(TABLES_EXECUTOR) $(if $(strip $(RAY_ADDRESS)),--address '$(RAY_ADDRESS)')

TABLE_TARGETS := table-000-2 table-000-3 table-000-4 table-001-5 table-001-6 table-002-5 table-002-7 \
	table-002-8 table-003-4 table-004-2 table-004-3 table-004-4 table-004-5 table-004-6 table-004-7 \
	table-004-8 table-004-9
TABLE_SMOKE_TARGETS := $(addsuffix -smoke,$(TABLE_TARGETS))
TABLES_DATA = --data 'CASME2=$(CASME2)' --data 'SAMM=$(SAMM)' --data 'SMIC=$(SMIC)' --data 'CKPLUS=$(CKPLUS)' \
	--data 'RAFDB=$(RAFDB)' --data 'WIDERFACE=$(WIDERFACE)'

.PHONY: $(TABLE_TARGETS) $(TABLE_SMOKE_TARGETS) tables-smoke tables-list

# A target whose variables are missing stops with the variable to set (mertool tables run says it).
$(TABLE_TARGETS): install
	$(MERTOOL) tables run $@ $(TABLES_DATA) --results $(RESULTS) --device $(TABLES_DEVICE) --resume $(TABLES_RUN) $(TABLES_ARGS)

$(TABLE_SMOKE_TARGETS): install
	$(MERTOOL) tables run $(@:-smoke=) --smoke --results $(RESULTS) $(TABLES_RUN) $(TABLES_ARGS) > /dev/null

# One process for all 17 twins (their synthetic data and shared runs are made once).
tables-smoke: install
	$(MERTOOL) tables run $(TABLE_TARGETS) --smoke --results $(RESULTS) $(TABLES_RUN) $(TABLES_ARGS) > /dev/null
	@ls $(RESULTS)/*-smoke.md

tables-list: install
	$(MERTOOL) tables list
