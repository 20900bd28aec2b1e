# The two commands of the README. Each does its own set-up (scripts/setup.sh) first.
.PHONY: setup conformance test lint

PYTEST := .venv/bin/python -m pytest

setup:
	@bash scripts/setup.sh

# The main job: the conformance suite against the default cluster (target picked automatically).
conformance: setup
	$(PYTEST) conformance/ $(ARGS)

# The project's own tests, which also run the conformance suite on BOTH targets. They run on 3
# pytest-xdist workers (most wait on HAProxy's timers, not on the 2 cores); worksteal keeps the
# long suite runs from ending up queued behind each other. JOBS=1 runs them in one process.
JOBS ?= 3
test: setup
	$(PYTEST) tests/ $(if $(filter 1,$(JOBS)),,-n $(JOBS) --dist worksteal) --durations=15 $(ARGS)

lint: setup
	.venv/bin/ruff check src tests conformance loadtests benchmarks
	.venv/bin/mypy
