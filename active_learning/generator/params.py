"""The generator's options and a run's `generate` params, checked for the web process, the API
and the command line (Django settings and the application error; no torch)."""

from django.conf import settings

from active_learning.generator.options import GeneratorOptions, OptionsError, options_from
from labeling.errors import ApplicationError
from labeling.models import Solution

GENERATED_SOURCE = "generated"  # Solution.source of generated candidates
SOLUTION_GENERATOR_MAX = Solution._meta.get_field("generator").max_length


def generator_options(data: dict | None) -> GeneratorOptions:
    """Checked options (an empty model means the GENERATOR_MODEL setting); ApplicationError
    listing every bad field otherwise (the API answers it as a 400, the command prints it)."""
    try:
        options = options_from(data, default_model=settings.GENERATOR_MODEL)
    except OptionsError as exc:
        raise ApplicationError("Invalid generator options.", details=exc.errors) from None
    if len(options.model) > SOLUTION_GENERATOR_MAX:
        raise ApplicationError(
            "Invalid generator options.",
            details=[f"model: at most {SOLUTION_GENERATOR_MAX} characters"],
        )
    return options


def generate_params(raw: dict | None) -> dict | None:
    """A run's `generate` params, checked: None (no stage), or {"options": GeneratorOptions
    as a dict, "only": bool, "problem_ids": list | None}. Accepts the options at the top
    level too ({"samples_per_problem": 4, ...}). ApplicationError naming every bad field (no
    torch: the web checks a trigger with this)."""
    if raw is None or raw is False:
        return None
    if not isinstance(raw, dict):
        raise ApplicationError("generate: must be an object of generator options")
    raw = dict(raw)
    only = raw.pop("only", False)
    problem_ids = raw.pop("problem_ids", None)
    options = raw.pop("options", None)
    if options is None:
        options = raw
    elif raw:
        raise ApplicationError(
            "generate: unknown field(s) " + ", ".join(sorted(raw)) + " beside 'options'"
        )
    errors = []
    if not isinstance(only, bool):
        errors.append("generate.only: must be true or false")
    if problem_ids is not None and (
        not isinstance(problem_ids, list)
        or not all(isinstance(i, int) and not isinstance(i, bool) for i in problem_ids)
    ):
        errors.append("generate.problem_ids: must be a list of problem ids")
    try:
        checked = generator_options(options)
    except ApplicationError as exc:
        errors.extend(f"generate.{e}" for e in (exc.details or [str(exc)]))
    if errors:
        raise ApplicationError("Invalid generator options.", details=errors)
    return {"options": checked.as_params(), "only": only, "problem_ids": problem_ids}
