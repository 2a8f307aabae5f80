# The two commands:  make demo  (run the job end to end)   make test  (run every test)
PY      := .venv/bin/python
SUBMIT  := scripts/spark-submit
PYTEST_ARGS ?=

.PHONY: setup services-up services-down services-reset services-status demo run test chaos produce generate bench bench-throughput bench-latency bench-dashboard cluster-run bench-producer bench-state bench-state-scale bench-recovery bench-cold-start bench-scoring backtest train dashboard dashboard-stop

setup:                     ## install Python packages, jars, MariaDB (idempotent)
	@scripts/bootstrap.sh

services-up: setup         ## start Kafka + MariaDB, create topics, apply migrations
	@$(PY) -m services up

services-down:             ## stop the local services, keep their data
	@$(PY) -m services down

services-reset:            ## stop the local services and wipe their data and checkpoints
	@$(PY) -m services reset

services-status:
	@$(PY) -m services status

demo: services-up          ## send a generated week of payments (+ labels, a few invalid), score them, print a summary
	@scripts/demo.sh
	@$(PY) -m services dashboard-up

run: services-up dashboard ## run the scoring job continuously (Ctrl-C stops after the current batch), dashboard beside it
	@$(SUBMIT) jobs/score_payments.py

dashboard: services-up     ## start the monitoring dashboard (Streamlit, http://127.0.0.1:8501) in the background
	@$(PY) -m services dashboard-up

dashboard-stop:            ## stop the dashboard
	@$(PY) -m services dashboard-down

test: services-up          ## lint (ruff), then every test against the real Kafka, MariaDB and Spark
	@$(PY) -m ruff check .
	@$(PY) -m pytest $(PYTEST_ARGS)

chaos: services-up         ## only the fault-injection tests (also part of make test)
	@$(PY) -m pytest -m chaos $(PYTEST_ARGS)

produce: services-up       ## send payments: make produce ARGS="--generate --n-days 7 --labels fraud"
	@$(PY) -m producer $(ARGS)

generate:                  ## write a dataset: make generate ARGS="--out data/payments.parquet"
	@$(PY) -m generator $(ARGS)

bench: bench-throughput bench-latency  ## both job benchmarks; results in bench/results/*.json and bench/RESULTS.md

bench-throughput: services-up  ## 1M preloaded payments through the job: tx/s end to end and per stage, memory
	@$(PY) bench/throughput.py $(ARGS)

bench-latency: services-up     ## 5,000 tx/s for 5 minutes: send-to-commit latency p50/p95/p99/max
	@$(PY) bench/latency.py $(ARGS)

bench-dashboard: services-up   ## each dashboard view's render time in headless Chromium with 10M scored rows
	@$(PY) bench/dashboard.py $(ARGS)

cluster-run: services-up       ## the job on a local standalone cluster (master + 2 workers) vs local mode, same data
	@$(PY) bench/cluster.py $(ARGS)

bench-producer: services-up  ## producer throughput to the local broker
	@$(PY) scripts/bench_producer.py

bench-recovery: services-up  ## kill -9 under live load, restart: seconds to the first committed micro-batch
	@$(PY) bench/recovery.py $(ARGS)

bench-cold-start: services-up  ## a new deployment on a stream without history: start-up, first batch, alerts; explanations on vs off
	@$(PY) bench/cold_start.py $(ARGS)

bench-state-scale: setup   ## the state at scale: 1M customers, 20M payments of history; rows/s, memory, size, restart
	@$(SUBMIT) --driver-memory 4g bench/state_scale.py $(ARGS)

bench-state: setup         ## the stateful stage alone (velocity operators), 1M payments: make bench-state ARGS="--customers 500000"
	@$(SUBMIT) bench/state_stage.py $(ARGS)

bench-scoring: setup       ## the model call on one core, rows/s per version: make bench-scoring ARGS="--models A,B"
	@$(PY) bench/scoring.py $(ARGS)

backtest: services-up      ## replay a labelled dataset through the job's code: make backtest ARGS="--rules candidate.yaml"
	@$(PY) -m backtest $(ARGS)

train: setup               ## train on the generated default dataset; writes model/artifacts/<version>, MODEL_CARD.md
	@$(PY) jobs/train_model.py $(ARGS)
