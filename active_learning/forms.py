from django import forms

from active_learning.models import LoopSettings


class LoopSettingsForm(forms.ModelForm):
    class Meta:
        model = LoopSettings
        fields = [
            "retrain_every",
            "batch_size",
            "per_problem_cap",
            "wrong_share",
            "strategy",
            "seed",
            "training_mode",
            "epochs",
            "backbone",
            "keep_layers",
            "score_chunk_size",
            "schedule_enabled",
            "schedule_minutes",
        ]
        labels = {
            "retrain_every": "Retrain after every N submitted labelings (0: off)",
            "batch_size": "Generation size (solutions)",
            "per_problem_cap": "At most this many solutions per problem",
            "wrong_share": "Share of convincing wrong answers (0 to 1)",
            "seed": "Seed (same seed, same selection)",
            "backbone": "Backbone (empty: the server's default)",
            "keep_layers": "Keep only the first N backbone layers (empty: all)",
            "score_chunk_size": "Solutions per scoring task",
            "schedule_enabled": "Also retrain on a schedule",
            "schedule_minutes": "Schedule interval (minutes)",
        }

    def clean_wrong_share(self):
        value = self.cleaned_data["wrong_share"]
        if not 0 <= value <= 1:
            raise forms.ValidationError("must be between 0 and 1")
        return value

    def clean(self):
        data = super().clean()
        for name in ("batch_size", "per_problem_cap", "epochs", "score_chunk_size"):
            if data.get(name) is not None and data[name] < 1:
                self.add_error(name, "must be at least 1")
        if data.get("schedule_minutes") is not None and data["schedule_minutes"] < 1:
            self.add_error("schedule_minutes", "must be at least 1")
        return data
