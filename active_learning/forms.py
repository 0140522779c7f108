from django import forms

from active_learning.generator.options import (
    DEFAULT_TEMPLATE,
    MAX_NEW_TOKENS,
    MAX_SAMPLES_PER_PROBLEM,
)
from active_learning.loop.settings_rules import (
    LOOP_FIELD_RULES,
    LOOP_SETTINGS_FIELDS,
    check_loop_settings,
)
from active_learning.models import LoopSettings
from labeling.input_rules import ColumnBoundsModelForm


class LoopSettingsForm(ColumnBoundsModelForm):
    class Meta:
        model = LoopSettings
        fields = list(LOOP_SETTINGS_FIELDS)
        labels = {
            "retrain_every": "Retrain after every N submitted labelings (0: off)",
            "batch_size": "Generation size (solutions)",
            "per_problem_cap": "At most this many solutions per problem",
            "wrong_share": "Share of convincing wrong answers (0 to 1)",
            "wrong_allocation": "Meet the wrong-answer share per",
            "truncated_policy": "Candidates scored on a truncated input",
            "seed": "Seed (same seed, same selection)",
            "learning_rate": "Learning rate (empty: full 2e-5, LoRA 2e-4, head 1e-3)",
            "train_batch_size": "Training batch size (per device)",
            "train_token_budget": "Training token budget per batch (empty: by batch size)",
            "grad_accumulation": "Gradient accumulation steps",
            "max_length": "Max tokens per solution",
            "lora_rank": "LoRA rank",
            "gradient_checkpointing": "Gradient checkpointing (less memory, ~30% slower)",
            "packing": "Padding-free packing (where the model supports it)",
            "precision": "Precision",
            "attn_implementation": "Attention implementation (empty: SDPA)",
            "backbone": "Backbone (empty: the server's default)",
            "keep_layers": "Keep only the first N backbone layers (empty: all)",
            "score_chunk_size": "Solutions per scoring task",
            "schedule_enabled": "Also retrain on a schedule",
            "schedule_minutes": "Schedule interval (minutes)",
        }

    def clean(self):
        """The loop's rules (loop.settings_rules, the same table every run checks), on the
        values posted merged over the stored row, each error on the field it names."""
        data = super().clean()
        current = {name: getattr(self.instance, name) for name in LOOP_FIELD_RULES}
        posted = {name: data[name] for name in LOOP_FIELD_RULES if name in data}
        problems = check_loop_settings({**current, **posted})
        for name, messages in problems.items():
            if name in posted:  # a field that failed its own parsing already has its error
                for message in messages:
                    self.add_error(name, message)
        return data


def escape_separator(text: str) -> str:
    """A separator as typed in a one-line field: line breaks and tabs as \\n and \\t."""
    return text.replace("\\", "\\\\").replace("\n", "\\n").replace("\t", "\\t")


def unescape_separator(text: str) -> str:
    out, i = [], 0
    while i < len(text):
        if text[i] == "\\" and i + 1 < len(text) and text[i + 1] in "nt\\":
            out.append({"n": "\n", "t": "\t", "\\": "\\"}[text[i + 1]])
            i += 2
        else:
            out.append(text[i])
            i += 1
    return "".join(out)


class GeneratorForm(forms.Form):
    """The generator page's options (input shape; the service checks the rest and its errors
    are shown on the field they name)."""

    model = forms.CharField(
        required=False,
        max_length=200,
        label="Model (Hugging Face id, local folder or smollm2; empty: the server's default)",
    )
    samples_per_problem = forms.IntegerField(
        min_value=1, max_value=MAX_SAMPLES_PER_PROBLEM, initial=4, label="Samples per problem"
    )
    temperature = forms.FloatField(
        min_value=0, max_value=10, initial=0.7, label="Temperature (0: greedy)"
    )
    top_p = forms.FloatField(min_value=0, max_value=1, initial=0.95, label="Top-p")
    max_new_tokens = forms.IntegerField(
        min_value=1, max_value=MAX_NEW_TOKENS, initial=512, label="Max new tokens per solution"
    )
    seed = forms.IntegerField(min_value=0, max_value=2**31 - 1, initial=0, label="Seed")
    batch_size = forms.IntegerField(min_value=1, max_value=4096, initial=8, label="Batch size")
    prompt_template = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 6}),
        initial=DEFAULT_TEMPLATE,
        strip=False,
        label="Prompt template ({problem} is replaced by the problem; write literal braces "
        "as {{ and }})",
    )
    step_separator = forms.CharField(
        initial=escape_separator("\n\n"), strip=False, label="Step separator (\\n for a line break)"
    )
    only_needed = forms.BooleanField(
        required=False,
        initial=True,
        label="Only problems with fewer unlabeled candidates than the samples asked for",
    )
    use_chat_template = forms.BooleanField(
        required=False, label="Wrap the prompt in the model's chat template"
    )

    def clean_step_separator(self):
        return unescape_separator(self.cleaned_data["step_separator"])

    def options(self) -> dict:
        return {k: v for k, v in self.cleaned_data.items() if v is not None and v != ""}
