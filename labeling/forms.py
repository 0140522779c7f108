from django import forms
from django.contrib.auth.validators import UnicodeUsernameValidator

from labeling.input_rules import ColumnBoundsModelForm, column_bounds, text_policy
from labeling.models import Generation, Project, Role
from labeling.services.projects import EDITABLE


class ProjectSettingsForm(ColumnBoundsModelForm):
    class Meta:
        model = Project
        fields = list(EDITABLE)
        labels = {
            "overlap": "Labelings per solution (overlap)",
            "lease_minutes": "Lease length (minutes)",
            "qc_rate": "Quality-control rate (share of tasks)",
            "screening_pass_mark": "Screening pass mark (step agreement)",
            "qc_pause_threshold": "Pause annotators below this QC agreement (empty: off)",
            "qc_pause_min_questions": "…after at least this many QC questions",
            "phase1_mode": "Phase-1 mode (rate proposed next steps, continue or write your own)",
            "phase1_alternatives": "Phase 1: alternatives asked of the generator per step",
            "hints_enabled": "Show the model's first-error guess as a hint (never a rating)",
            "hints_unhinted_share": "…but serve this share of tasks without it (bias control)",
            "disagreement_budget": "Disagreement queue: re-labelings per generation (0: off)",
            "disagreement_k": "…when first errors differ by more than this many steps",
            "disagreement_confidence": "…or the model is this sure of an error a person missed",
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # a form posted without it (made before phase 1 existed) keeps the stored value
        self.fields["phase1_alternatives"].required = False
        # forms posted without the newer settings keep the stored values
        for name in (
            "hints_unhinted_share",
            "disagreement_budget",
            "disagreement_k",
            "disagreement_confidence",
        ):
            self.fields[name].required = False

    def clean_phase1_alternatives(self):
        value = self.cleaned_data.get("phase1_alternatives")
        return self.instance.phase1_alternatives if value is None else value

    def _stored_if_missing(self, name):
        value = self.cleaned_data.get(name)
        return getattr(self.instance, name) if value is None else value

    def clean_hints_unhinted_share(self):
        return self._stored_if_missing("hints_unhinted_share")

    def clean_disagreement_budget(self):
        return self._stored_if_missing("disagreement_budget")

    def clean_disagreement_k(self):
        return self._stored_if_missing("disagreement_k")

    def clean_disagreement_confidence(self):
        return self._stored_if_missing("disagreement_confidence")


class StatsFilterForm(forms.Form):
    generation = forms.IntegerField(
        required=False, **{**column_bounds(Generation, "number"), "min_value": -1}
    )
    since = forms.DateTimeField(required=False, help_text="e.g. 2026-11-01")
    until = forms.DateTimeField(required=False)

    def clean(self):
        data = super().clean()
        if data.get("since") and data.get("until") and data["since"] >= data["until"]:
            self.add_error("until", "must be after since")
        return data


class ProjectCreateForm(forms.Form):
    name = forms.CharField(max_length=200)
    description = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))


class MemberAddForm(forms.Form):
    username = forms.CharField(
        max_length=150,
        help_text="An existing user, or a new name: an account is made for them "
        "(letters, digits and @ . + - _ only).",
        # the rules of labeling.services.users.username_check, shown under the field
        validators=[text_policy, UnicodeUsernameValidator()],
    )
    role = forms.ChoiceField(choices=Role.choices, initial=Role.ANNOTATOR)


class GuidelinesForm(forms.Form):
    guidelines = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 8}),
        help_text="Plain text, shown to annotators on every task of this project.",
    )
