#!/bin/bash
# The full measurement sequence of bench/bench_queue_stats.py (data must be set up first:
#   .venv/bin/python bench/bench_queue_stats.py setup-queue --db bench_queue
#   .venv/bin/python bench/bench_queue_stats.py setup-stats --db bench_stats )
# Every step waits for a quiet machine itself. Output: bench/out/queue-stats/.
set -x
cd "$(dirname "$0")/.."
B=".venv/bin/python bench/bench_queue_stats.py"
case "${1:-all}" in
  queue|all)
    # persistent connections (60 s) unless --conn-max-age 0; G = the recommended server
    G="--workers 2 --worker-class gthread --threads 4"
    $B queue --db bench_queue --duration 60 --think 0 --qc-rate 0 $G
    $B queue --db bench_queue --duration 60 --think 0 --qc-rate 0.1 $G
    $B queue --db bench_queue --duration 60 --think 1 --qc-rate 0 $G
    $B queue --db bench_queue --duration 60 --think 0 --qc-rate 0 --workers 4
    $B queue --db bench_queue --duration 60 --think 0 --qc-rate 0 --workers 4 --conn-max-age 0
    ;;&
  stats|all)
    $B profile-stats --db bench_stats --runs 3
    $B stats --db bench_stats --cache locmem
    $B stats --db bench_stats --cache redis
    $B stats --db bench_stats --cache redis --celery
    ;;
esac
