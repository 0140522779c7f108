"""What labeling announces to the parts built on top of it, without importing them.

The dependency runs one way: `active_learning` (the PRM loop) imports `labeling`, never the
reverse (an import-linter contract in pyproject.toml checks it). Where labeling's own flow has
news the loop acts on, it calls a hook here; the loop subscribes in its
`ActiveLearningConfig.ready()` (active_learning/apps.py). This is the one place the hooks are
listed; they are plain function registries, not Django signals: a hook is called in the
process and at the point where the news happens (after the commit, from
`transaction.on_commit`), and a subscriber's exception is not swallowed.

The hooks, and who fires and who takes them:

- `labels_arrived(project_id, counted_down=False)`: a labeling was submitted (quality-control
  and screening submits do not count). Fired by `labeling.services.submission` after its
  commit. The loop's retrain trigger (`active_learning.loop.triggers.labels_maybe_trigger`, which
  never raises) subscribes. `counted_down=True`: the submit has already counted the labeling
  off the loop's countdown (below) in its own cache round trip, and the countdown ran out, or
  the cache could not be reached; the subscriber then checks for real.
- `labels_countdown_key(project_id)`: not a hook but a key the loop provides: the cache key of
  its per-project "labels still wanted before a retrain" countdown, which a submit decrements
  in the same Redis pipeline as its own cache writes (one round trip). None while nobody
  provides it.
- `solutions_need_grading(project_id)`: new candidate solutions were imported and wait to be
  graded. Fired by `labeling.services.solutions.solutions_import` after its commit. The loop's
  grading queue (`active_learning.grading.grading_enqueue`, best effort: it logs and returns
  False when the broker is down) subscribes.

- `next_steps_wanted(project_id, alternatives_id, k)`: a phase-1 annotator reached a point
  (a problem and the steps so far) that has no proposed next steps: the
  `NextStepAlternatives` row `alternatives_id` is pending and wants `k` alternatives. Fired by
  `labeling.services.phase1_alternatives` after its commit. The loop's
  `active_learning.phase1.next_steps_enqueue` (best effort: it logs and returns False when the
  broker is down; the watchdog sends it later) subscribes: a `gpu` worker samples the steps
  with the project's generator (active_learning/generator/phase1.py) and stores them with
  `labeling.services.phase1_alternatives.alternatives_fill`, or marks the request failed;
  until then the annotator's page waits (or they write their own step).

- `step_scores_reader(project_id, solution_id)`: not a hook but a reader the loop provides:
  `(model_version_id, step_scores)` of the project's current PRM for that solution, from its
  stored scoring (`SolutionScore`), or None when the current version has not scored it (or
  there is no current version). Read by `labeling.services.hints` when a task opens with
  pre-labels on (docs/model-assisted.md). None while nobody provides it: no hints.

With no subscriber (the loop's app not installed) firing a hook does nothing.
"""

from collections.abc import Callable

Subscriber = Callable[..., object]


class Hook:
    """A named list of subscribers `f(project_id, **details)`, called in subscription order.

    `subscribe` is idempotent (the same function twice is kept once), so an app's `ready()`
    running twice (as it can in tests) does not double the calls.
    """

    def __init__(self, name: str) -> None:
        self.name = name
        self._subscribers: list[Subscriber] = []

    def subscribe(self, subscriber: Subscriber) -> Subscriber:
        """Add `subscriber`; returns it (so this works as a decorator)."""
        if subscriber not in self._subscribers:
            self._subscribers.append(subscriber)
        return subscriber

    def unsubscribe(self, subscriber: Subscriber) -> None:
        """Remove `subscriber` (no error when it was not subscribed)."""
        if subscriber in self._subscribers:
            self._subscribers.remove(subscriber)

    @property
    def subscribers(self) -> tuple[Subscriber, ...]:
        return tuple(self._subscribers)

    def fire(self, project_id: int, **details) -> None:
        """Call every subscriber with `project_id` (and the hook's keyword `details`). An
        exception from a subscriber propagates (subscribers that must never fail a caller, like
        the loop's, catch their own)."""
        for subscriber in tuple(self._subscribers):
            subscriber(project_id, **details)

    def __repr__(self) -> str:
        return f"<Hook {self.name}: {len(self._subscribers)} subscriber(s)>"


labels_arrived = Hook("labels_arrived")
solutions_need_grading = Hook("solutions_need_grading")
next_steps_wanted = Hook("next_steps_wanted")


class KeyProvider:
    """A cache key that another app owns and labeling writes: `provide(make)` registers
    `make(project_id) -> str`; calling the provider returns the key, or None when nobody
    provides one."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._make: Callable[[int], str] | None = None

    def provide(self, make: Callable[[int], str]) -> Callable[[int], str]:
        self._make = make
        return make

    def __call__(self, project_id: int) -> str | None:
        return None if self._make is None else self._make(project_id)


labels_countdown_key = KeyProvider("labels_countdown_key")


class ReaderProvider:
    """A read of another app's data that labeling needs and may not import: `provide(read)`
    registers `read(project_id, *args)`; calling the provider returns its answer, or None when
    nobody provides one."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._read: Callable[..., object] | None = None

    def provide(self, read: Callable[..., object]) -> Callable[..., object]:
        self._read = read
        return read

    def __call__(self, project_id: int, *args) -> object:
        return None if self._read is None else self._read(project_id, *args)


step_scores_reader = ReaderProvider("step_scores_reader")
