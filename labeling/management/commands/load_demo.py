"""Load the demo: real problems and model solutions from ../shared/data, and one user per role.

Idempotent: a second run adds nothing and prints the same logins.
"""

import json
import secrets

from django.conf import settings
from django.core.management.base import CommandError

from labeling.management.commands._base import ServiceCommand
from labeling.models import Project, Role, User
from labeling.record_files import open_input
from labeling.services.prm800k import prm800k_import
from labeling.services.problems import problems_import
from labeling.services.solutions import solutions_import
from labeling.services.users import membership_ensure, user_create

DEMO_PROJECT = "MATH demo (ProcessBench solutions)"
SAMPLES_PROJECT = "PRM800K samples"
DEMO_ROLES = (Role.ANNOTATOR, Role.LEAD, Role.RESEARCHER)


class Command(ServiceCommand):
    help = "Load demo data (MATH problems, ProcessBench solutions, PRM800K samples) and users."

    def handle(self, *args, **options):
        data = settings.SHARED_DATA_DIR
        if not data.is_dir():
            raise CommandError(f"{data}: the shared data folder is missing (see README).")
        if not Project.objects.filter(name=DEMO_PROJECT).exists():
            # MATH test problems first, so ProcessBench's solutions join their reference answers
            # and solutions by problem text.
            result = problems_import(
                path=str(data / "math_test.parquet"), project_name=DEMO_PROJECT
            )
            self.stdout.write(f"MATH test problems: {result.summary()}")
            result = solutions_import(
                path=str(data / "processbench_math.json"), project_name=DEMO_PROJECT
            )
            self.stdout.write(f"ProcessBench MATH solutions: {result.summary()}")
        if not Project.objects.filter(name=SAMPLES_PROJECT).exists():
            with open_input(str(data / "prm800k_samples.jsonl")) as stream:
                result = prm800k_import(
                    stream=stream, name="prm800k_samples.jsonl", project_name=SAMPLES_PROJECT
                )
            self.stdout.write(f"PRM800K samples: {result.summary()}")
        logins = self._ensure_users()
        self.stdout.write("\nDemo logins (also in var/demo_logins.json):")
        for role, (username, password) in logins.items():
            self.stdout.write(f"  {role:<10}  user {username:<11} password {password}")

    def _ensure_users(self) -> dict:
        path = settings.VAR_DIR / "demo_logins.json"
        logins = json.loads(path.read_text()) if path.exists() else {}
        projects = list(Project.objects.filter(name__in=[DEMO_PROJECT, SAMPLES_PROJECT]))
        for role in DEMO_ROLES:
            username, password = logins.get(role, (role, secrets.token_urlsafe(9)))
            user = User.objects.filter(username=username).first()
            if user is None:
                user, _ = user_create(username=username, role=role, password=password)
            elif not user.check_password(password):
                user.set_password(password)
                user.save(update_fields=["password"])
            for project in projects:
                membership_ensure(user=user, project=project)
            logins[role] = (username, password)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(logins, indent=2))
        return logins
