from django.contrib import admin

from active_learning.forms import LoopSettingsForm
from active_learning.models import LoopSettings, ModelVersion, Run, SolutionScore


@admin.register(ModelVersion)
class ModelVersionAdmin(admin.ModelAdmin):
    list_display = ("id", "project", "status", "is_current", "backbone", "created_at")
    list_filter = ("project", "status", "is_current")
    readonly_fields = ("data_snapshot", "metrics", "settings", "log")


@admin.register(SolutionScore)
class SolutionScoreAdmin(admin.ModelAdmin):
    list_display = ("model_version", "solution_id", "score", "truncated")
    raw_id_fields = ("solution", "model_version")


@admin.register(LoopSettings)
class LoopSettingsAdmin(admin.ModelAdmin):
    form = LoopSettingsForm  # the loop's rules (loop.settings_rules), as on the settings page
    list_display = (
        "project",
        "retrain_every",
        "batch_size",
        "strategy",
        "training_mode",
        "schedule_enabled",
    )
    list_filter = ("strategy", "training_mode", "schedule_enabled")


@admin.register(Run)
class RunAdmin(admin.ModelAdmin):
    list_display = ("id", "project", "trigger", "status", "stage", "percent", "created_at")
    list_filter = ("project", "status", "trigger")
    raw_id_fields = ("model_version", "generation", "retry_of", "requested_by")
    readonly_fields = ("params", "stage_seconds", "log", "error")
