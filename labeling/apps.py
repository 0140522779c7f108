from django.apps import AppConfig


class LabelingConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "labeling"

    def ready(self):
        # API token cache invalidation listens to token and user changes (signal receivers).
        from labeling import research_auth  # noqa: F401
