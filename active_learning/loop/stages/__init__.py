"""The worker side of a run, in order: `train` (gpu queue), `score` (one task per chunk, gpu
queue), `publish` (select and publish the next generation, default queue). Each stage is a
plain function of a run id; `active_learning/tasks.py` chains them over Celery and
`active_learning/loop/in_process.py` (`STAGES`) runs them in one process."""
