"""The generator's settings and their checks (no Django, no torch: the web process and the API
check a request with this before anything is queued).

A prompt template is Python `str.format` text with one field, `{problem}` (the problem's text);
literal braces are doubled (`{{` `}}`), as LaTeX in a template needs. The default asks for
PRM800K's layout (steps separated by blank lines, `# Answer` at the end), which
`parsing.parse_solution` reads back.
"""

import re
import string
from dataclasses import asdict, dataclass, fields

from labeling.text_policy import text_problem

DEFAULT_TEMPLATE = (
    "Solve the following math problem step by step. Put each step in its own paragraph, "
    "separated by a blank line. End with a line '# Answer', a blank line, and the final "
    "answer.\n\nProblem: {problem}\n\nSolution:\n"
)
DEFAULT_STOP = ("\nProblem:",)
MAX_SAMPLES_PER_PROBLEM = 1000
MAX_NEW_TOKENS = 32_768


class OptionsError(ValueError):
    """Options that cannot be used; `errors` lists each as `field: what is wrong`."""

    def __init__(self, errors: list[str]):
        super().__init__("; ".join(errors))
        self.errors = errors


@dataclass(frozen=True)
class GeneratorOptions:
    """`model`: a Hugging Face id, a local folder, or "smollm2" (the demo backbone the package
    ships, SmolLM2-135M-Instruct); empty means the PRM_BACKBONE setting. `samples_per_problem`:
    N solutions sampled per problem. `temperature` 0 means greedy decoding (every sample the
    same, so N > 1 only makes duplicates). `top_p`: nucleus sampling mass in (0, 1].
    `max_new_tokens`: per solution. `seed`: the base seed (batch b samples with seed + b, so a
    run is repeated exactly with the same seed, batch size, model and device). `batch_size`:
    prompts per `generate` call. `only_needed`: sample only for problems with fewer than
    `samples_per_problem` unlabeled candidates (the loop's "problems that need them")."""

    model: str = ""
    samples_per_problem: int = 4
    temperature: float = 0.7
    top_p: float = 0.95
    max_new_tokens: int = 512
    seed: int = 0
    batch_size: int = 8
    prompt_template: str = DEFAULT_TEMPLATE
    step_separator: str = "\n\n"
    stop: tuple[str, ...] = DEFAULT_STOP
    only_needed: bool = True
    use_chat_template: bool = False
    device: str = ""  # empty: cuda when available, else cpu

    def as_params(self) -> dict:
        """JSON-ready (recorded on the run and on every generated solution)."""
        params = asdict(self)
        params["stop"] = list(self.stop)
        return params

    def prompt(self, problem: str) -> str:
        return self.prompt_template.format(problem=problem)


def _whole(value, low: int, high: int) -> bool:
    return not isinstance(value, bool) and isinstance(value, int) and low <= value <= high


def _number(value) -> bool:
    return not isinstance(value, bool) and isinstance(value, int | float)


def template_errors(template) -> list[str]:
    """What is wrong with a prompt template (empty when it is usable)."""
    if not isinstance(template, str) or not template.strip():
        return ["prompt_template: must be a non-empty text"]
    try:
        names = {name for _, name, _, _ in string.Formatter().parse(template) if name is not None}
    except ValueError as exc:
        return [
            f"prompt_template: {exc} (write literal braces as {{{{ and }}}}, the problem as "
            "{problem})"
        ]
    if "problem" not in names:
        return ["prompt_template: must contain {problem}, where the problem's text goes"]
    unknown = sorted(names - {"problem"})
    if unknown:
        return [
            f"prompt_template: unknown field(s) {', '.join('{' + n + '}' for n in unknown)} "
            "(only {problem} is filled in; write literal braces as {{ and }})"
        ]
    try:
        template.format(problem="x")
    except (IndexError, KeyError, ValueError) as exc:
        return [f"prompt_template: cannot be filled in: {exc}"]
    return []


_CUDA_N = re.compile(r"cuda:[0-9]+")


def _text_errors(options: GeneratorOptions) -> list[str]:
    """The texts that break the platform's text policy (labeling.text_policy: no control
    character but tab and line breaks, no lone surrogate): they are recorded on the run, and
    PostgreSQL refuses a NUL there."""
    texts = [(name, getattr(options, name)) for name in ("model", "prompt_template")]
    texts.append(("step_separator", options.step_separator))
    texts.extend((f"stop[{i}]", text) for i, text in enumerate(options.stop))
    errors = []
    for name, text in texts:
        problem = text_problem(text) if isinstance(text, str) else None
        if problem is not None:
            errors.append(f"{name}: {problem}")
    return errors


def options_from(data: dict | None, *, default_model: str = "") -> GeneratorOptions:
    """GeneratorOptions from a request / command line / run params dict; OptionsError listing
    every bad field (unknown names included)."""
    data = dict(data or {})
    known = {f.name for f in fields(GeneratorOptions)}
    errors = [f"{name}: unknown generator option" for name in sorted(set(data) - known)]
    values = {k: v for k, v in data.items() if k in known}
    if "stop" in values:
        stop = values["stop"]
        if isinstance(stop, str):
            stop = [stop]
        if not isinstance(stop, list | tuple) or not all(isinstance(s, str) and s for s in stop):
            errors.append("stop: must be a list of non-empty texts")
        else:
            values["stop"] = tuple(stop)
    options = GeneratorOptions(**values) if not errors else GeneratorOptions()
    if errors:
        raise OptionsError(errors)
    if not isinstance(options.model, str) or len(options.model) > 500:
        errors.append("model: must be a Hugging Face id or a path of at most 500 characters")
    if not _whole(options.samples_per_problem, 1, MAX_SAMPLES_PER_PROBLEM):
        errors.append(
            f"samples_per_problem: must be a whole number from 1 to {MAX_SAMPLES_PER_PROBLEM}"
        )
    if not _number(options.temperature) or not 0 <= options.temperature <= 10:
        errors.append("temperature: must be a number from 0 (greedy) to 10")
    if not _number(options.top_p) or not 0 < options.top_p <= 1:
        errors.append("top_p: must be a number above 0 and at most 1")
    if not _whole(options.max_new_tokens, 1, MAX_NEW_TOKENS):
        errors.append(f"max_new_tokens: must be a whole number from 1 to {MAX_NEW_TOKENS}")
    if not _whole(options.seed, 0, 2**31 - 1):
        errors.append("seed: must be a whole number from 0 to 2147483647")
    if not _whole(options.batch_size, 1, 4096):
        errors.append("batch_size: must be a whole number from 1 to 4096")
    errors.extend(template_errors(options.prompt_template))
    if not isinstance(options.step_separator, str) or not options.step_separator:
        errors.append("step_separator: must be a non-empty text (a blank line by default)")
    for name in ("only_needed", "use_chat_template"):
        if not isinstance(getattr(options, name), bool):
            errors.append(f"{name}: must be true or false")
    if options.device not in ("", "cpu", "cuda") and not (
        isinstance(options.device, str) and _CUDA_N.fullmatch(options.device)
    ):
        errors.append("device: must be empty (automatic), cpu, cuda or cuda:N")
    errors.extend(_text_errors(options))
    if errors:
        raise OptionsError(errors)
    if not options.model and default_model:
        options = GeneratorOptions(**{**values, "model": default_model})
    return options
