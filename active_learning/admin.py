from django.contrib import admin

from active_learning.models import ModelVersion, SolutionScore


@admin.register(ModelVersion)
class ModelVersionAdmin(admin.ModelAdmin):
    list_display = ("id", "project", "status", "is_current", "backbone", "created_at")
    list_filter = ("project", "status", "is_current")
    readonly_fields = ("data_snapshot", "metrics", "settings", "log")


@admin.register(SolutionScore)
class SolutionScoreAdmin(admin.ModelAdmin):
    list_display = ("model_version", "solution_id", "score", "truncated")
    raw_id_fields = ("solution", "model_version")
