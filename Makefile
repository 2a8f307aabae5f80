# The two commands:  make demo  (run the job end to end)   make test  (run every test)
PY      := .venv/bin/python
SUBMIT  := scripts/spark-submit
PYTEST_ARGS ?=

.PHONY: setup services-up services-down services-reset services-status demo run test clean-checkpoints

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

demo: services-up          ## produce demo payments, score them until caught up, print a summary
	@$(PY) scripts/produce_demo_payments.py
	@$(SUBMIT) jobs/score_payments.py --available-now 2> state/score_payments.log \
	  || { echo "job failed; see state/score_payments.log" >&2; tail -30 state/score_payments.log >&2; exit 1; }
	@$(PY) scripts/print_summary.py

run: services-up           ## run the scoring job continuously (Ctrl-C stops after the current batch)
	@$(SUBMIT) jobs/score_payments.py

test: services-up          ## every test, against the real Kafka, MariaDB and Spark
	@$(PY) -m pytest $(PYTEST_ARGS)
