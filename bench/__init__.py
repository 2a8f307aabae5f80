"""Benchmarks of the scoring job (make bench): throughput, latency, memory, per-stage costs."""
