from django import forms

from labeling.models import Project
from labeling.services.projects import EDITABLE


class ProjectSettingsForm(forms.ModelForm):
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
        }


class StatsFilterForm(forms.Form):
    generation = forms.IntegerField(required=False, min_value=-1)
    since = forms.DateTimeField(required=False, help_text="e.g. 2026-11-01")
    until = forms.DateTimeField(required=False)

    def clean(self):
        data = super().clean()
        if data.get("since") and data.get("until") and data["since"] >= data["until"]:
            self.add_error("until", "must be after since")
        return data
