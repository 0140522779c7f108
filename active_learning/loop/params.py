"""A run's parameters: the project's loop settings, a caller's overrides, and their checks
(done in the web process without importing torch, so a bad trigger is refused at once)."""

from django.conf import settings

from active_learning.generator.params import generate_params
from active_learning.loop import settings_rules
from active_learning.models import LoopSettings
from labeling.errors import ApplicationError
from labeling.models import Problem, Project

# The loop settings a run records (their order, names and rules: loop.settings_rules).
PARAM_FIELDS = settings_rules.PARAM_FIELDS
# Loop settings that are TrainConfig fields: {LoopSettings field: TrainConfig field}. They go
# into a run's params["train"]; an empty value leaves TrainConfig's default.
LOOP_TRAIN_FIELDS = settings_rules.LOOP_TRAIN_FIELDS
# TrainConfig fields a caller (trigger API, simulation, command line) may set for one run.
TRAIN_OVERRIDES = (
    *LOOP_TRAIN_FIELDS.values(),
    "head_learning_rate",
    "patience",
    "warmup_ratio",
    "weight_decay",
    "lora_alpha",
    "evals_per_epoch",
)


def loop_settings_get(project: Project) -> LoopSettings:
    settings_row, _ = LoopSettings.objects.get_or_create(project=project)
    return settings_row


def run_params(project: Project, overrides: dict | None = None) -> dict:
    """The project's loop settings with `overrides` applied and checked: everything that decides
    a run's outcome, recorded on the run and on the generation it publishes."""
    loop = loop_settings_get(project)
    params = {name: getattr(loop, name) for name in PARAM_FIELDS}
    overrides = dict(overrides or {})
    train = overrides.pop("train", {}) or {}
    generate = overrides.pop("generate", None)
    unknown = sorted(set(overrides) - set(PARAM_FIELDS))
    if unknown:
        raise ApplicationError(
            f"Unknown run parameter(s): {', '.join(unknown)} (known: {', '.join(PARAM_FIELDS)})"
        )
    params.update(overrides)
    params["backbone"] = params["backbone"] or settings.PRM_BACKBONE
    bad_train = sorted(set(train) - set(TRAIN_OVERRIDES))
    if bad_train:
        raise ApplicationError(
            f"Unknown training parameter(s): {', '.join(bad_train)} "
            f"(known: {', '.join(TRAIN_OVERRIDES)})"
        )
    from_loop = {
        option: getattr(loop, name)
        for name, option in LOOP_TRAIN_FIELDS.items()
        if getattr(loop, name) not in (None, "")
    }
    params["train"] = {**from_loop, **train}
    _check_params(params)
    params["generate"] = generate_params(generate)  # the generate stage, or None
    _check_problem_ids(project, (params["generate"] or {}).get("problem_ids"))
    return params


def _check_problem_ids(project: Project, problem_ids: list[int] | None) -> None:
    """ApplicationError naming `generate.problem_ids` when some are not the project's problems
    (checked before a run exists; the stage checks them again)."""
    if not problem_ids:
        return
    known = set(
        Problem.objects.filter(project=project, pk__in=problem_ids).values_list("pk", flat=True)
    )
    missing = sorted(set(problem_ids) - known)
    if missing:
        raise ApplicationError(
            "Invalid generator options.",
            details=[
                f"generate.problem_ids: {', '.join(map(str, missing[:10]))}"
                + (f" and {len(missing) - 10} more" if len(missing) > 10 else "")
                + f" are not problems of project {project.name!r}"
            ],
        )


def _check_params(params: dict) -> None:
    """The loop's rules (loop.settings_rules, the one table) on a run's parameters.

    Raises ApplicationError with one "name: must be ..." detail per broken rule."""
    errors = settings_rules.check(params)
    if errors:
        raise ApplicationError("Invalid run parameters.", details=errors)
