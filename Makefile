.PHONY: run test test-fast bench lint

run:  ## set up and serve the demo (SQLite + in-memory layer unless DATABASE_URL/REDIS_URL)
	scripts/run.sh

test:  ## lint and run every test against local PostgreSQL and Redis
	scripts/test.sh

test-fast:  ## the fast tier: in-process tests on SQLite and the in-memory layer, no services
	scripts/bootstrap.sh requirements-dev.txt
	env -u DATABASE_URL -u REDIS_URL .venv/bin/python -m pytest -m "not service" -q

bench:  ## the benchmark suite (a few minutes; starts what it needs); see docs/benchmarks.md
	bench/run.sh

lint:
	scripts/bootstrap.sh requirements-dev.txt && .venv/bin/ruff check . && .venv/bin/ruff format --check .
