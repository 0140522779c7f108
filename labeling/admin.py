from django.contrib import admin
from django.contrib.auth.admin import UserAdmin

from labeling.models import (
    Generation,
    GenerationItem,
    GoldLabel,
    Labeling,
    Membership,
    NextStepAlternatives,
    Problem,
    Project,
    Solution,
    StepRating,
    User,
)


@admin.register(User)
class LabelingUserAdmin(UserAdmin):
    list_display = ("username", "role", "labeler_uuid", "is_active", "is_staff")
    list_filter = ("role", "is_active", "is_staff")
    readonly_fields = ("labeler_uuid",)
    fieldsets = (*UserAdmin.fieldsets, ("Labeling", {"fields": ("role", "labeler_uuid")}))
    add_fieldsets = (*UserAdmin.add_fieldsets, ("Labeling", {"fields": ("role",)}))


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    raw_id_fields = ("user",)


@admin.register(Project)
class ProjectAdmin(admin.ModelAdmin):
    list_display = ("name", "overlap", "lease_minutes", "qc_rate", "screening_pass_mark")
    search_fields = ("name",)
    inlines = [MembershipInline]


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ("project", "user", "screening_status", "screening_score", "paused")
    list_filter = ("project", "screening_status", "paused")
    list_editable = ("paused",)
    raw_id_fields = ("user",)


@admin.register(Problem)
class ProblemAdmin(admin.ModelAdmin):
    list_display = ("id", "project", "short_text", "reference_answer", "subject", "level")
    list_filter = ("project", "subject", "level")
    search_fields = ("text", "external_id")
    readonly_fields = ("text_hash",)

    @admin.display(description="text")
    def short_text(self, obj):
        return obj.text[:80]


@admin.register(Solution)
class SolutionAdmin(admin.ModelAdmin):
    list_display = (
        "id",
        "project",
        "problem_id",
        "final_answer",
        "is_correct",
        "prm_score",
        "generator",
        "source",
    )
    list_filter = ("project", "is_correct", "source")
    search_fields = ("external_id", "generator")
    raw_id_fields = ("problem",)
    readonly_fields = ("steps_hash",)


class GenerationItemInline(admin.TabularInline):
    model = GenerationItem
    extra = 0
    raw_id_fields = ("solution",)


@admin.register(Generation)
class GenerationAdmin(admin.ModelAdmin):
    list_display = ("project", "number", "strategy", "created_at")
    list_filter = ("project", "strategy")


@admin.register(GenerationItem)
class GenerationItemAdmin(admin.ModelAdmin):
    list_display = ("generation", "rank", "solution_id", "score")
    raw_id_fields = ("solution", "generation")


@admin.register(GoldLabel)
class GoldLabelAdmin(admin.ModelAdmin):
    list_display = ("solution_id", "labeling_id", "marked_by", "created_at")
    raw_id_fields = ("solution", "labeling", "marked_by")


@admin.register(Labeling)
class LabelingAdmin(admin.ModelAdmin):
    actions = ["mark_gold"]
    list_display = (
        "id",
        "project",
        "solution_id",
        "labeler",
        "generation",
        "status",
        "finish_reason",
        "is_quality_control",
        "is_screening",
        "submitted_at",
    )
    list_filter = ("project", "status", "finish_reason", "is_quality_control", "is_screening")
    raw_id_fields = ("solution", "labeler", "generation")
    readonly_fields = ("source_hash",)


@admin.register(StepRating)
class StepRatingAdmin(admin.ModelAdmin):
    list_display = ("labeling_id", "step_index", "completion_index", "rating", "flagged")
    list_filter = ("rating", "flagged")
    raw_id_fields = ("labeling",)

    @admin.action(description="Mark as gold for its solution")
    def mark_gold(self, request, queryset):
        from labeling.services.quality import gold_mark

        for labeling in queryset.filter(status="submitted"):
            gold_mark(labeling=labeling, by=request.user)


# --- the researcher surface (issue 8): API tokens and background jobs --------------------------
from labeling.models import ApiToken, ExportJob, ImportJob  # noqa: E402


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = ("name", "user", "prefix", "created_at", "last_used_at")
    search_fields = ("name", "user__username", "prefix")
    raw_id_fields = ("user",)
    readonly_fields = ("key_hash", "prefix", "created_at", "last_used_at")


@admin.register(ExportJob)
class ExportJobAdmin(admin.ModelAdmin):
    list_display = ("id", "project", "format", "status", "progress", "total", "row_count")
    list_filter = ("status", "format", "project")
    raw_id_fields = ("created_by",)
    readonly_fields = ("created_at", "started_at", "finished_at")


@admin.register(ImportJob)
class ImportJobAdmin(admin.ModelAdmin):
    list_display = ("id", "project", "kind", "filename", "status", "progress", "total")
    list_filter = ("status", "kind", "project")
    raw_id_fields = ("created_by",)
    readonly_fields = ("created_at", "started_at", "finished_at")


@admin.register(NextStepAlternatives)
class NextStepAlternativesAdmin(admin.ModelAdmin):
    """Phase-1 proposals per point; read-only: what annotators saw must never change."""

    list_display = ("id", "project", "problem_id", "step", "status", "source", "created_at")
    list_filter = ("project", "status")
    raw_id_fields = ("problem",)
    readonly_fields = ("prefix_hash", "prefix", "texts")

    @admin.display(description="after step")
    def step(self, obj):
        return len(obj.prefix)


# --- model-assisted labeling (docs/model-assisted.md) ------------------------------------------
from labeling.models import Adjudication, DisagreementItem  # noqa: E402


@admin.register(DisagreementItem)
class DisagreementItemAdmin(admin.ModelAdmin):
    list_display = ("id", "project", "generation", "solution_id", "reason", "strength")
    list_filter = ("project", "reason")
    raw_id_fields = ("solution", "generation")


@admin.register(Adjudication)
class AdjudicationAdmin(admin.ModelAdmin):
    list_display = ("id", "project", "solution_id", "first_error", "adjudicated_by", "updated_at")
    list_filter = ("project",)
    raw_id_fields = ("solution", "adjudicated_by")
