from django.apps import AppConfig


def _labels_arrived(project_id: int, *, counted_down: bool = False) -> None:
    from active_learning.loop.triggers import labels_maybe_trigger

    if counted_down:  # the submit decremented the countdown itself: check for real
        labels_maybe_trigger(project_id)
    else:
        labels_maybe_trigger(project_id, after_submit=True)


def _labels_countdown_key(project_id: int) -> str:
    from active_learning.loop.triggers import labels_remaining_key

    return labels_remaining_key(project_id)


def _solutions_need_grading(project_id: int) -> None:
    from active_learning.grading import grading_enqueue

    grading_enqueue(project_id)


def _step_scores(project_id: int, solution_id: int):
    from active_learning.selectors import current_step_scores

    return current_step_scores(project_id, solution_id)


def _next_steps_wanted(project_id: int, *, alternatives_id: int, k: int) -> None:
    from active_learning.phase1 import next_steps_enqueue

    next_steps_enqueue(project_id, alternatives_id=alternatives_id, k=k)


class ActiveLearningConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "active_learning"

    def ready(self):
        # The loop builds on labeling, which never imports it: labeling announces its news
        # through labeling/hooks.py (the one list of hooks) and the loop subscribes here.
        from labeling import hooks

        hooks.labels_arrived.subscribe(_labels_arrived)
        hooks.solutions_need_grading.subscribe(_solutions_need_grading)
        hooks.next_steps_wanted.subscribe(_next_steps_wanted)
        hooks.labels_countdown_key.provide(_labels_countdown_key)
        hooks.step_scores_reader.provide(_step_scores)
        # the grading tasks (queue `grading`) live with their service; register them
        from active_learning import grading  # noqa: F401
