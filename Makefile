# The two commands of the README. Each does its own set-up (scripts/setup.sh) first.
.PHONY: setup conformance test lint

PYTEST := .venv/bin/python -m pytest

setup:
	@bash scripts/setup.sh

# The main job: the conformance suite against the default cluster (target picked automatically).
conformance: setup
	$(PYTEST) conformance/ $(ARGS)

# The project's own tests, which also run the conformance suite on BOTH targets.
test: setup
	$(PYTEST) tests/ $(ARGS)

lint: setup
	.venv/bin/ruff check src tests conformance loadtests benchmarks
	.venv/bin/mypy
