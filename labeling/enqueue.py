"""Enqueue once: the debounce every "queue this task, but not again for a while" uses.

The cache's atomic add (Redis SET NX with an expiry; any Django cache's `add`) is the lock: the
first caller in a window queues the task, the others see the key and do not. Used by the
statistics refresh after submits (labeling/services/submission.py) and by the stale-cache
refresh of the dashboard (labeling/project_stats.py); the submit's Redis pipeline sets the same
kind of key itself (one round trip) and then queues only when its SET NX succeeded.
"""

from django.core.cache import cache


def enqueue_once(key: str, window_s: float, task, args=(), kwargs=None, **options) -> bool:
    """Queue `task.apply_async(args, kwargs, **options)` unless a call with the same `key` did
    within the last `window_s` seconds. True when this call queued it, False when the window
    was already open. Cache and broker errors propagate (callers decide whether a submit may
    fail for them; none does)."""
    if not cache.add(key, 1, timeout=window_s):
        return False
    task.apply_async(args, kwargs, **options)
    return True
