#!/usr/bin/env bash
# The README's run command, after `make services-up`: send a generated week of payments
# (with fraud labels and a few invalid messages) to fresh demo topics, score them with the
# job until it has caught up, and print a summary read back from MySQL.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
py=.venv/bin/python
run="demo$(date +%Y%m%d%H%M%S)"
log="state/logs/score_payments-$run.log"
mkdir -p state/logs
$py scripts/demo_topics.py "$run"
$py -m producer --generate --n-days 7 --labels fraud --invalid-fraction 0.001 --quiet \
  --topic "payments-$run" --labels-topic "labels-$run" --id-prefix "$run-"
echo "scoring (log: $log) ..."
if ! scripts/spark-submit jobs/score_payments.py --available-now --checkpoint "state/checkpoints/$run" \
     --payments-topic "payments-$run" --labels-topic "labels-$run" > "$log" 2>&1; then
  echo "the job failed; last lines of $log:" >&2
  tail -30 "$log" >&2
  exit 1
fi
grep -E "score_payments|sinks.batch_writer" "$log" | grep -E "batch [0-9]+:|model " | tail -4 || true
$py scripts/print_summary.py
