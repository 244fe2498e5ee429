.PHONY: run test bench lint

run:  ## set up and serve the demo (SQLite + in-memory layer unless DATABASE_URL/REDIS_URL)
	scripts/run.sh

test:  ## lint and run every test against local PostgreSQL and Redis
	scripts/test.sh

bench:  ## the benchmark suite (a few minutes; starts what it needs); see docs/benchmarks.md
	bench/run.sh

lint:
	scripts/bootstrap.sh requirements-dev.txt && .venv/bin/ruff check . && .venv/bin/ruff format --check .
