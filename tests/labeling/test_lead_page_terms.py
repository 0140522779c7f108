"""The lead pages name their counts so that two numbers that differ do not look like one
thing counted twice. Issue 14: the Queue page said "QC questions 0" while Statistics said "Gold
questions 2" (one counts gold questions served in the queue, the other those answered in the
queue and at screening); Generations said "Labels collected 6" while model v1 said "Trained on
15" (new labelings of one generation against every labeling trained on)."""

import re

import pytest

from labeling.models import GoldLabel, Membership, Role
from tests.factories import LabelingFactory, ProjectFactory, SolutionFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def project_with_gold(client):
    project = ProjectFactory()
    lead = UserFactory(role=Role.LEAD)
    Membership.objects.create(project=project, user=UserFactory(role=Role.ANNOTATOR))
    solution = SolutionFactory(problem__project=project)
    GoldLabel.objects.create(solution=solution, labeling=LabelingFactory(solution=solution))
    client.force_login(lead)
    return project


def _headers(html: str) -> list[str]:
    return [re.sub(r"<[^>]+>", "", h).strip() for h in re.findall(r"<th[^>]*>(.*?)</th>", html)]


def test_queue_and_statistics_say_which_gold_questions_they_count(client, project_with_gold):
    """Would catch the old "QC questions" / "Gold questions" pair: two terms for gold
    questions, neither saying whether screening questions are in the count."""
    p = project_with_gold.pk
    queue = _headers(client.get(f"/projects/{p}/queue/").content.decode())
    stats = _headers(client.get(f"/projects/{p}/stats/").content.decode())
    assert "Gold questions in the queue (QC)" in queue
    assert "Gold questions answered (QC and screening)" in stats
    assert "QC questions" not in queue and "Gold questions" not in stats


def test_generations_and_versions_say_what_their_label_counts_count(client, project_with_gold):
    """Would catch "Labels collected" beside "Trained on (labelings)": one counts a
    generation's new labelings, the other every labeling of all generations."""
    html = client.get(f"/projects/{project_with_gold.pk}/generations/").content.decode()
    headers = _headers(html)
    assert "New labelings on this generation" in headers
    assert "Trained on: labelings, all generations" in headers
    assert "Labels collected" not in headers
