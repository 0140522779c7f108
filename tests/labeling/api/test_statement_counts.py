"""The exact number of SQL statements each hot-path request issues (issue 15, point 5).

What it catches: a change that adds a statement (a round trip, and on PostgreSQL a parse and a
plan) to next, open, draft save or submit, for example a lazy foreign-key read in a serializer, a
lease renewal repeated between next and open, a delete before the ratings insert, a retrain check
that queries the database after every submit, or a token lookup that stops being cached. Such a
change makes the count differ and this test fail, with the statements listed; a change that
removes one fails too, so that the numbers below (and docs/benchmarks.md) stay true. Nothing is
timed.

The requests go through the real URL routing, middleware and token authentication (an
`Authorization: Token` header, no forced login), in a transactional test, so that the
statements are those production sends, BEGIN, COMMIT and savepoints included (each is a round
trip; Django logs them), on PostgreSQL and SQLite alike. Work done after the commit (statistics
debounce, the retrain countdown) runs inside the counted request too. Counts are taken in the
steady state: the first cycle warms the token cache and the retrain countdown (a cold cache
costs one token read and one retrain check per minute and project).
"""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from labeling.models import Generation, GenerationItem, Labeling, LabelingStatus, StepRating
from labeling.services.users import user_create
from tests.factories import ProjectFactory, SolutionFactory

STEPS = ["One.", "Two.", "So 3.\n\n# Answer\n\n3"]
MARKS = [{"rating": 1, "flagged": False}] * len(STEPS)

# Statements per request in the steady state (see the module docstring), BEGIN and COMMIT
# included. next: lock the membership (reading the project, its generations and whether a task
# is in progress), lock the best free candidate (SKIP LOCKED), insert the draft if its slots
# are still free. open: the read (the lease was just set by next, so it is not renewed again).
# draft save: a read and a conditional UPDATE. submit on PostgreSQL: a read and one statement
# that submits, upserts the ratings and counts the generation item; on SQLite (the embedded
# demo): a locked read, the update, the ratings upsert and the item update in a transaction.
EXPECTED = {
    "next (a new task)": 5,
    "open": 1,
    "draft save": 2,
    "next (resume the task in progress)": 4,
    "submit": 2,
    "submit again (a retry)": 1,
}
EXPECTED_SQLITE = {**EXPECTED, "submit": 6, "submit again (a retry)": 3}


@pytest.mark.django_db(transaction=True)
def test_statements_per_hot_path_request():
    project = ProjectFactory(overlap=1, qc_rate=0, lease_minutes=30)
    generation = Generation.objects.create(project=project, number=0)
    for rank in range(1, 5):
        solution = SolutionFactory(problem__project=project, steps=STEPS)
        GenerationItem.objects.create(generation=generation, solution=solution, rank=rank)
    _, token = user_create(username="counted", role="annotator", project=project)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")

    def next_task():
        return client.post("/api/assignments/next/", {"project": project.pk}, format="json")

    def cycle(sql: dict) -> int:
        def counted(name, call, expect=200):
            with CaptureQueriesContext(connection) as queries:
                response = call()
            assert response.status_code == expect, (name, response.content)
            # (a prepared statement is logged without its text: "(prepared)")
            sql[name] = [q["sql"] or "(prepared)" for q in queries]
            return response

        task = counted("next (a new task)", next_task).json()["id"]
        counted("open", lambda: client.get(f"/api/assignments/{task}/"))
        counted(
            "draft save",
            lambda: client.put(f"/api/assignments/{task}/draft/", {"steps": MARKS}, format="json"),
        )
        counted("next (resume the task in progress)", next_task)
        submit = lambda: client.post(  # noqa: E731
            f"/api/assignments/{task}/submit/", {"finish_reason": "solution"}, format="json"
        )
        counted("submit", submit)
        counted("submit again (a retry)", submit)
        return task

    cycle({})  # warm-up: token cache, retrain countdown
    sql: dict[str, list[str]] = {}
    task = cycle(sql)

    counts = {name: len(statements) for name, statements in sql.items()}
    listing = "\n".join(f"{n}:\n  " + "\n  ".join(s[:160] for s in sql[n]) for n in sql)
    expected = EXPECTED if connection.vendor == "postgresql" else EXPECTED_SQLITE
    assert counts == expected, listing
    # and the requests did their work
    labeling = Labeling.objects.get(pk=task)
    assert labeling.status == LabelingStatus.SUBMITTED
    assert StepRating.objects.filter(labeling=labeling).count() == len(STEPS)
    assert GenerationItem.objects.filter(is_open=True).count() == 2
