"""gunicorn settings, read by every `gunicorn` started from the repository root (the image's
/app, `manage.py rundemo`, the tests' and the benchmarks' servers); a command-line option
overrides the one here.

Fair serving (issue 15 point 3): a kept-alive connection stays with the worker process that
accepted it, and the kernel hands a burst of new connections to whichever process wakes first,
so one process can end up with most of the clients: measured with 20 annotators and 2 workers,
19 connections on one process and 1 on the other, and that one annotator labeled 4-5 times as
much as each of the others (bench/bench_hotpath.py, docs/benchmarks.md). Closing the connection
after each response (keepalive = 0) lets every request go to whichever process takes it next:
the per-annotator spread became 13-18 (Jain's index 0.995, was 0.70). A TCP connect per request
costs little next to the request itself on a local network; a reverse proxy in front keeps its
own connections to the clients.
"""

keepalive = 0
