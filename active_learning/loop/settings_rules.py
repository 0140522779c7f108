"""The loop settings' rules, written once: each run parameter's type, bounds and choices, and
the rules across fields (issue 17). No Django and no torch, so the web process, the settings
form, the API serializers and `loop.params.run_params` all check against this one table.

Names are a run's parameter names (`PARAM_FIELDS`), `train.<option>` for the
training options (TrainConfig fields, `loop.params.TRAIN_OVERRIDES`) and the loop-settings-only
fields (`retrain_every`, `schedule_*`). `LOOP_FIELD_RULES` maps each LoopSettings field to its
rule's name. Who else holds these bounds, and the tests that keep them equal:

- `prm.train_config.TrainConfig.__post_init__` (the training library's own guard):
  tests/active_learning/loop/test_settings_rules.py feeds both each boundary value.
- the CheckConstraints on `models.LoopSettings` (the database's last line): same test file.
- the choices of `models.Strategy` etc.: same test file.
"""

from dataclasses import dataclass

from labeling.json_types import is_json_bool, is_json_integer, is_json_number

STRATEGIES = ("convincing_wrong", "uniform")
WRONG_ALLOCATIONS = ("batch", "per_problem")
TRUNCATED_POLICIES = ("last", "exclude", "ignore")
TRAINING_MODES = ("auto", "head", "lora", "full")
PRECISIONS = ("auto", "bf16", "fp32")
DEFAULT_MAX_LENGTH = 1536  # TrainConfig.max_length, the budget rule's default


@dataclass(frozen=True)
class Rule:
    """One field's rule. kind: "whole" (a JSON integer: an int, not a bool or 3.0), "number"
    (a finite JSON number: an int or float, not a bool), "bool" (true or false exactly),
    "choice" or "text". minimum/maximum: inclusive bounds, or None; above: the minimum is
    exclusive (`learning_rate` > 0). nullable: None (empty) is allowed and means the
    default."""

    kind: str
    minimum: float | None = None
    maximum: float | None = None
    above: bool = False
    nullable: bool = False
    choices: tuple = ()

    def problem(self, value) -> str | None:
        """What is wrong with `value` ("must be ...", the wording of the messages), or None."""
        if value is None:
            return None if self.nullable else "must not be empty"
        if self.kind == "bool":
            return None if is_json_bool(value) else "must be true or false"
        if self.kind == "choice":
            ok = isinstance(value, str) and value in self.choices
            return None if ok else f"must be one of {', '.join(self.choices)}"
        if self.kind == "text":
            return None if isinstance(value, str) else "must be a name"
        # the JSON types of labeling/json_types.py: a count is an int (not 3.0, which would
        # reach TrainConfig as a float, nor true); a number is finite and not a bool
        whole = self.kind == "whole"
        number = is_json_integer(value) if whole else is_json_number(value)
        in_range = number and (
            (
                self.minimum is None
                or (value > self.minimum if self.above else value >= self.minimum)
            )
            and (self.maximum is None or value <= self.maximum)
        )
        return None if in_range else self._wording()

    def _wording(self) -> str:
        noun = "a whole number" if self.kind == "whole" else "a number"
        empty = "empty or " if self.nullable else ""
        if self.minimum is not None and self.maximum is not None:
            return f"must be {empty}{noun} from {_num(self.minimum)} to {_num(self.maximum)}"
        if self.minimum is not None:
            word = "above" if self.above else "of at least"
            return f"must be {empty}{noun} {word} {_num(self.minimum)}"
        return f"must be {empty}{noun}"


def _num(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


def _whole(minimum, nullable=False):
    return Rule("whole", minimum=minimum, nullable=nullable)


RULES: dict[str, Rule] = {
    # a run's parameters (PARAM_FIELDS)
    "batch_size": _whole(1),
    "per_problem_cap": _whole(1),
    "wrong_share": Rule("number", minimum=0, maximum=1),
    "wrong_allocation": Rule("choice", choices=WRONG_ALLOCATIONS),
    "truncated_policy": Rule("choice", choices=TRUNCATED_POLICIES),
    "strategy": Rule("choice", choices=STRATEGIES),
    "seed": Rule("whole"),
    "training_mode": Rule("choice", choices=TRAINING_MODES),
    "epochs": _whole(1),
    "backbone": Rule("text", nullable=True),
    "keep_layers": _whole(1, nullable=True),  # empty: every layer; 0 has no layer to train
    "score_chunk_size": _whole(1),
    # training options (TrainConfig fields a run may set)
    "train.learning_rate": Rule("number", minimum=0, above=True, nullable=True),
    "train.head_learning_rate": Rule("number", minimum=0, above=True, nullable=True),
    "train.batch_size": _whole(1),
    "train.token_budget": _whole(16, nullable=True),
    "train.grad_accumulation": _whole(1),
    "train.max_length": _whole(16),
    "train.lora_rank": _whole(1),
    "train.lora_alpha": Rule("number", minimum=0, above=True, nullable=True),
    "train.patience": _whole(1),
    "train.evals_per_epoch": _whole(1),
    "train.warmup_ratio": Rule("number", minimum=0, maximum=1),
    "train.weight_decay": Rule("number", minimum=0, maximum=1),
    "train.gradient_checkpointing": Rule("bool"),
    "train.packing": Rule("bool"),
    "train.precision": Rule("choice", choices=PRECISIONS),
    "train.attn_implementation": Rule("text", nullable=True),
    # loop settings that are not run parameters
    "retrain_every": _whole(0),  # 0: off
    "schedule_enabled": Rule("bool"),
    "schedule_minutes": _whole(1),
}

# The rule across fields: a token budget holds at least one solution of max_length tokens.
BUDGET_MESSAGE = "must be at least train.max_length (one solution)"

# LoopSettings fields that are TrainConfig fields: {LoopSettings field: TrainConfig field}.
LOOP_TRAIN_FIELDS = {
    "learning_rate": "learning_rate",
    "train_batch_size": "batch_size",
    "train_token_budget": "token_budget",
    "grad_accumulation": "grad_accumulation",
    "max_length": "max_length",
    "lora_rank": "lora_rank",
    "gradient_checkpointing": "gradient_checkpointing",
    "packing": "packing",
    "precision": "precision",
    "attn_implementation": "attn_implementation",
}
# The LoopSettings fields a user edits, in the order the settings form and the API show them
# (active_learning.forms.LoopSettingsForm, serializers.LoopSettingsSerializer).
LOOP_SETTINGS_FIELDS = (
    "retrain_every",
    "batch_size",
    "per_problem_cap",
    "wrong_share",
    "wrong_allocation",
    "truncated_policy",
    "strategy",
    "seed",
    "training_mode",
    "epochs",
    *LOOP_TRAIN_FIELDS,
    "backbone",
    "keep_layers",
    "score_chunk_size",
    "schedule_enabled",
    "schedule_minutes",
)
# Loop settings that are not run parameters (when and how often to retrain).
_LOOP_ONLY_FIELDS = {"retrain_every", "schedule_enabled", "schedule_minutes"}
# A run's parameters (loop.params.run_params): the loop settings that decide a run's outcome
# other than the training options, which go into params["train"].
PARAM_FIELDS = tuple(
    name
    for name in LOOP_SETTINGS_FIELDS
    if name not in LOOP_TRAIN_FIELDS and name not in _LOOP_ONLY_FIELDS
)
# {LoopSettings field: its rule's name}
LOOP_FIELD_RULES = {
    **{name: name for name in RULES if not name.startswith("train.")},
    **{name: f"train.{option}" for name, option in LOOP_TRAIN_FIELDS.items()},
}
# The LoopSettings fields whose empty value is stored as "" (text columns): "" is the default.
_BLANK_IS_EMPTY = {"backbone", "train.attn_implementation"}


def check(values: dict) -> list[str]:
    """Every broken rule in `values`, as "name: must be ..." messages (name as in RULES).

    values: a run's parameters, `{"batch_size": 200, ..., "train": {"max_length": 512, ...}}`;
    only the names present are checked (the budget rule takes max_length's default,
    DEFAULT_MAX_LENGTH, when it is absent). Names outside RULES are not checked here (the
    callers refuse unknown names). Returns [] when every rule holds."""
    flat = {name: value for name, value in values.items() if name != "train"}
    flat.update({f"train.{name}": value for name, value in (values.get("train") or {}).items()})
    errors = []
    for name, value in flat.items():
        rule = RULES.get(name)
        if rule is None or (name in _BLANK_IS_EMPTY and value == ""):
            continue
        problem = rule.problem(value)
        if problem:
            errors.append(f"{name}: {problem}")
    budget = flat.get("train.token_budget")
    longest = flat.get("train.max_length", DEFAULT_MAX_LENGTH)
    if (
        budget is not None
        and RULES["train.token_budget"].problem(budget) is None
        and RULES["train.max_length"].problem(longest) is None
        and budget < longest
    ):
        errors.append(f"train.token_budget: {BUDGET_MESSAGE}")
    return errors


def check_loop_settings(values: dict) -> dict[str, list[str]]:
    """`check` for LoopSettings fields: `values` keyed by LoopSettings field names (e.g. a
    form's cleaned data merged over the stored row); returns {LoopSettings field: [message]},
    the message without the field's name (a form or serializer shows it on the field)."""
    by_rule = {LOOP_FIELD_RULES[name]: name for name in values if name in LOOP_FIELD_RULES}
    nested: dict = {}
    for rule_name, field in by_rule.items():
        if rule_name.startswith("train."):
            nested.setdefault("train", {})[rule_name.removeprefix("train.")] = values[field]
        else:
            nested[rule_name] = values[field]
    out: dict[str, list[str]] = {}
    for message in check(nested):
        rule_name, _, text = message.partition(": ")
        out.setdefault(by_rule[rule_name], []).append(text)
    return out


def field_bounds(name: str) -> dict:
    """`min_value` / `max_value` keyword arguments (inclusive bounds only) for an input field
    checked by rule `name`, for forms and serializers to show and enforce."""
    rule = RULES[name]
    kwargs = {}
    if rule.minimum is not None and not rule.above:
        kwargs["min_value"] = rule.minimum
    if rule.maximum is not None:
        kwargs["max_value"] = rule.maximum
    return kwargs
