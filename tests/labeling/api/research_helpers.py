"""Shared set-up of the researcher API tests: the real PRM800K samples imported into a project,
and clients for each role."""

import io

from rest_framework.test import APIClient

from labeling.models import Membership, Project, Role
from labeling.services.prm800k import prm800k_import
from tests.conftest import PRM800K_SAMPLES
from tests.factories import UserFactory


def import_samples(project_name: str = "samples") -> Project:
    prm800k_import(
        stream=io.BytesIO(PRM800K_SAMPLES.read_bytes()),
        name="prm800k_samples.jsonl",
        project_name=project_name,
    )
    return Project.objects.get(name=project_name)


def client_for(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def user_with(role: str, *projects):
    user = UserFactory(role=role)
    for project in projects:
        Membership.objects.create(project=project, user=user)
    return user


def lead():
    return UserFactory(role=Role.LEAD)


def researcher(*projects):
    return user_with(Role.RESEARCHER, *projects)


def annotator(*projects):
    return user_with(Role.ANNOTATOR, *projects)
