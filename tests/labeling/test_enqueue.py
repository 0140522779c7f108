"""labeling/enqueue.py: one queued task per key and window (the statistics refresh debounces).
It would catch a debounce that queues on every call, or one that never queues again."""

from django.core.cache import cache

from labeling.enqueue import enqueue_once


class _Task:
    def __init__(self):
        self.queued = []

    def apply_async(self, args, kwargs=None, **options):
        self.queued.append((args, kwargs, options))


def test_one_task_per_key_and_window():
    cache.clear()
    task = _Task()
    assert enqueue_once("k:1", 60, task, (1,), countdown=5) is True
    assert enqueue_once("k:1", 60, task, (1,), countdown=5) is False
    assert enqueue_once("k:2", 60, task, (2,), {"flt": {}}) is True
    assert task.queued == [((1,), None, {"countdown": 5}), ((2,), {"flt": {}}, {})]
    cache.delete("k:1")  # the window ended
    assert enqueue_once("k:1", 60, task, (1,)) is True
    assert len(task.queued) == 3
