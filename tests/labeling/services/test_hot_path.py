"""The few-statement hot path (issue 15 point 2) keeps the queue's guarantees: the claim's
insert recounts real labelings under the lock, open renews only a lease that needs it, and the
two-statement submit never writes over a draft that changed after it was read."""

import time
from collections import Counter
from datetime import timedelta

import pytest
from django.utils import timezone

from labeling import rating_rules
from labeling.errors import NotFound
from labeling.models import GenerationItem, Labeling, LabelingStatus, Membership, StepRating
from labeling.services import assignments, claims
from labeling.services.assignments import assignment_next, assignment_open
from labeling.services.drafts import assignment_draft_save
from labeling.services.submission import labeling_submit
from tests.factories import LabelingFactory, UserFactory
from tests.labeling.services.test_queue import annotator, make_project

pytestmark = pytest.mark.django_db


def test_a_stale_open_counter_never_over_assigns_the_claim_recounts_real_labelings():
    """Catches a claim that trusts the candidate query's counts (or a snapshot taken before the
    lock): item 1 says it is open with nobody on it, but a submitted labeling fills it."""
    project = make_project(solutions=2, overlap=1)
    first = GenerationItem.objects.get(rank=1)
    LabelingFactory(
        project=project,
        solution=first.solution,
        generation=first.generation,
        status=LabelingStatus.SUBMITTED,
        finish_reason="solution",
        submitted_at=timezone.now(),
    )
    assert (first.submitted_count, first.is_open) == (0, True)  # the stale counter
    task = assignment_next(user=annotator(project), project=project).labeling
    assert task.solution_id == GenerationItem.objects.get(rank=2).solution_id
    assert Labeling.objects.filter(solution=first.solution).count() == 1


def test_the_claimed_draft_is_a_complete_saved_labeling():
    project = make_project(solutions=1, lease_minutes=30)
    task = assignment_next(user=annotator(project), project=project).labeling
    stored = Labeling.objects.get(pk=task.pk)
    for field in ("solution_id", "labeler_id", "generation_id", "status", "lease_expires_at"):
        assert getattr(task, field) == getattr(stored, field), field
    assert (stored.steps, stored.total_time_ms, stored.is_screening) == ([], 0, False)
    assert stored.lease_expires_at > timezone.now() + timedelta(minutes=29)


def test_open_renews_a_lease_that_was_not_just_set_and_never_revives_an_expired_one():
    """Catches open skipping every renewal (the lease would run out under an annotator who
    reloads) and a renewal that takes back an expired slot without the locked recount."""
    project = make_project(solutions=1, overlap=1, lease_minutes=30)
    user, other = annotator(project), annotator(project)
    task = assignment_next(user=user, project=project).labeling
    just_set = Labeling.objects.get(pk=task.pk).lease_expires_at
    assignment_open(labeling=Labeling.objects.get(pk=task.pk))
    assert Labeling.objects.get(pk=task.pk).lease_expires_at == just_set  # nothing written
    soon = timezone.now() + timedelta(minutes=5)
    Labeling.objects.filter(pk=task.pk).update(lease_expires_at=soon)
    assignment_open(labeling=Labeling.objects.get(pk=task.pk))
    renewed = Labeling.objects.get(pk=task.pk).lease_expires_at
    assert renewed > timezone.now() + timedelta(minutes=29)
    # expired and taken by someone else: opening closes it instead of renewing it
    Labeling.objects.filter(pk=task.pk).update(lease_expires_at=timezone.now() - timedelta(1))
    assert assignment_next(user=other, project=project).labeling.solution_id == task.solution_id
    opened = assignment_open(labeling=Labeling.objects.get(pk=task.pk))
    assert opened.status == LabelingStatus.ABANDONED


@pytest.mark.postgres
def test_a_save_between_the_submits_read_and_write_is_what_gets_submitted(monkeypatch):
    """Catches a submit that writes the ratings it read after a later save changed them (the
    two-statement submit on PostgreSQL must notice the change and redo it under the lock). On
    SQLite the submit's transaction excludes other writers, so there is no such moment."""
    project = make_project(solutions=1)
    user = annotator(project)
    task = assignment_next(user=user, project=project).labeling
    steps = len(task.solution.steps)
    assignment_draft_save(
        user_id=user.pk, assignment_id=task.pk, steps=[{"rating": 1, "flagged": False}] * steps
    )
    real_check = rating_rules.check_submit
    calls = []

    def check_then_save(*args, **kwargs):
        if not calls:  # the first check, between the read and the write: the annotator saves
            marks = [{"rating": 0, "flagged": True}] * steps
            assignment_draft_save(user_id=user.pk, assignment_id=task.pk, steps=marks)
        calls.append(1)
        return real_check(*args, **kwargs)

    monkeypatch.setattr(rating_rules, "check_submit", check_then_save)
    labeling_submit(labeling=Labeling.objects.get(pk=task.pk), finish_reason="solution")
    ratings = set(StepRating.objects.filter(labeling_id=task.pk).values_list("rating", "flagged"))
    assert ratings == {(0, True)}
    assert StepRating.objects.filter(labeling_id=task.pk).count() == steps
    item = GenerationItem.objects.get()
    assert (item.submitted_count, item.is_open) == (1, False)  # counted once


def test_resubmitting_upserts_rather_than_duplicating_ratings():
    """Catches a ratings write that inserts next to rows already there (a labeling submitted
    again after a lead reopened it, or left-over rows): one row per step, the newest values."""
    project = make_project(solutions=1)
    user = annotator(project)
    task = assignment_next(user=user, project=project).labeling
    steps = len(task.solution.steps)
    StepRating.objects.bulk_create(
        StepRating(labeling_id=task.pk, step_index=i, completion_index=0, rating=-1)
        for i in range(steps)
    )
    assignment_draft_save(
        user_id=user.pk, assignment_id=task.pk, steps=[{"rating": 1, "flagged": False}] * steps
    )
    labeling_submit(labeling=Labeling.objects.get(pk=task.pk), finish_reason="solution")
    rows = StepRating.objects.filter(labeling_id=task.pk)
    assert rows.count() == steps and {r.rating for r in rows} == {1}


def test_a_candidate_held_by_another_claim_is_skipped_not_waited_for(monkeypatch):
    """The general path takes over when the fast claim finds nothing it can lock."""
    project = make_project(solutions=2)
    monkeypatch.setattr(assignments, "claim_fast", lambda *args: None)
    task = assignment_next(user=annotator(project), project=project).labeling
    assert task.solution_id == GenerationItem.objects.get(rank=1).solution_id


def test_post_submit_cache_work_is_one_redis_round_trip_with_the_same_effects(
    redis_url, settings, monkeypatch
):
    """Catches the post-commit work of a submit going back to one Redis call per operation
    (or a pipeline that writes keys or values the readers cannot read back)."""
    import uuid

    import redis
    from django.core.cache import cache

    from active_learning.loop import triggers
    from labeling.project_stats import _changed_key
    from labeling.services import after_submit

    settings.CACHES = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": redis_url,
            "KEY_PREFIX": f"test-{uuid.uuid4().hex}",
        }
    }
    queued, checked, calls = [], [], Counter()
    monkeypatch.setattr(
        after_submit.project_stats_refresh, "apply_async", lambda *a, **k: queued.append(a)
    )
    monkeypatch.setattr(triggers, "labels_maybe_trigger", lambda pid, **k: checked.append(pid))
    direct, batched = redis.Redis.execute_command, redis.client.Pipeline.execute
    monkeypatch.setattr(
        redis.Redis,
        "execute_command",
        lambda self, *a, **k: calls.update(["command"]) or direct(self, *a, **k),
    )
    monkeypatch.setattr(
        redis.client.Pipeline,
        "execute",
        lambda self, *a, **k: calls.update(["pipeline"]) or batched(self, *a, **k),
    )
    cache.set("loop-labels-remaining:7", 2)
    calls.clear()

    after_submit.after_submit(7, regular=True)
    assert calls == Counter(pipeline=1)  # one round trip
    assert abs(cache.get(_changed_key(7)) - time.time()) < 60
    assert cache.get("stats-refresh-pending:7") == 1
    assert cache.get("loop-labels-remaining:7") == 1
    assert (len(queued), checked) == (1, [])
    after_submit.after_submit(7, regular=True)  # inside the debounce window; countdown runs out
    assert (len(queued), checked) == (1, [7])
    cache.delete("loop-labels-remaining:7")
    after_submit.after_submit(7, regular=False)  # screening/QC: no countdown
    assert checked == [7]
    after_submit.after_submit(7, regular=True)  # no estimate: check for real
    assert checked == [7, 7]


@pytest.mark.postgres
def test_the_hot_statements_are_prepared_and_an_unrated_submit_works():
    """Catches the hot path's statements going back to being planned on every request (Django
    inlines parameters, so PostgreSQL plans each statement again): after a next and a submit,
    the membership read, the claim, the draft insert and the submit's read and write are
    named prepared statements of the connection. The submit is one with no rating at all
    (empty arrays)."""
    from django.db import connection

    project = make_project(solutions=2)
    user = annotator(project)
    task = assignment_next(user=user, project=project).labeling
    done = labeling_submit(
        labeling=Labeling.objects.get(pk=task.pk), finish_reason="bad_problem", reason="Unclear."
    )
    assert done.status == LabelingStatus.SUBMITTED
    assert not StepRating.objects.filter(labeling_id=task.pk).exists()
    assert Labeling.objects.get(pk=task.pk).status == LabelingStatus.SUBMITTED
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_prepared_statements")
        prepared = [row[0] for row in cursor.fetchall()]
    assert any("FOR UPDATE OF s SKIP LOCKED" in s for s in prepared), prepared
    assert any("INSERT INTO" in s and "RETURNING" in s for s in prepared), prepared
    assert any("WITH l AS" in s for s in prepared), prepared
    assert any("FOR UPDATE OF m" in s for s in prepared), prepared  # next's membership read
    assert any("jsonb_array_length" in s for s in prepared), prepared  # submit's read


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_prepared_statements_can_be_turned_off(settings):
    """Catches DATABASE_PREPARED_STATEMENTS=0 being ignored (PgBouncer in transaction mode
    before 1.21 fails on named prepared statements)."""
    from django.db import connection

    settings.DATABASE_PREPARED_STATEMENTS = False
    connection.close()  # a new connection: nothing prepared yet
    project = make_project(solutions=1)
    task = assignment_next(user=annotator(project), project=project).labeling
    labeling_submit(labeling=task, finish_reason="bad_problem", reason="Unclear.")
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_prepared_statements")
        assert cursor.fetchone()[0] == 0


@pytest.mark.postgres
def test_the_claim_walks_the_partial_index_without_planner_statistics():
    """Catches a claim query (or an index change) that makes PostgreSQL scan every open task
    when the tables were never analyzed (issue 15: 94-160 ms a call at 10,000 tasks): the plan
    must walk the partial index of open items in rank order and stop at the first free one.
    The 5,000 items are new in this test's transaction: no statistics describe them."""
    from django.db import connection

    from labeling.models import Generation, Problem, Solution
    from tests.factories import ProjectFactory

    project = ProjectFactory(overlap=1, qc_rate=0)
    generation = Generation.objects.create(project=project, number=0)
    problem = Problem.objects.create(project=project, text="x", text_hash="x")
    solutions = Solution.objects.bulk_create(
        Solution(project=project, problem=problem, steps=["a"], steps_hash=str(i))
        for i in range(5000)
    )
    GenerationItem.objects.bulk_create(
        GenerationItem(generation=generation, solution=s, rank=i) for i, s in enumerate(solutions)
    )
    user = annotator(project)
    sql = claims._CANDIDATES_SQL.format(
        item=GenerationItem._meta.db_table,
        labeling=Labeling._meta.db_table,
        gold="labeling_goldlabel",
        tried="",
        join=" JOIN labeling_solution s ON s.id = gi.solution_id",
        lock="\nFOR UPDATE OF s SKIP LOCKED",
    )
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN " + sql, [generation.pk, user.pk, "draft", timezone.now(), 1, 1])
        plan = "\n".join(row[0] for row in cursor.fetchall())
    # The open-items partial index is the plan without statistics; once autovacuum has
    # analyzed a near-empty table (earlier tests), PostgreSQL may prefer the generation index
    # with a filter. Either walks an index; what must never happen is a scan of every item.
    assert "generation_item_open" in plan or "Index Cond: (generation_id =" in plan, plan
    # (the labelings may be scanned: with stale statistics of a near-empty table that is cheap)
    assert f"Seq Scan on {GenerationItem._meta.db_table}" not in plan, plan


def test_next_without_a_project_serves_the_first_membership_and_reads_the_project():
    """The membership statement (hand-written on PostgreSQL) without a project: the
    annotator's first membership; none at all is "nothing left"; the project and its
    settings come with the membership."""
    first, second = make_project(solutions=1, lease_minutes=17), make_project(solutions=1)
    user = annotator(first)
    Membership.objects.create(project=second, user=user)
    task = assignment_next(user=user).labeling
    assert task.project_id == first.pk
    assert task.project.lease_minutes == 17
    assert task.lease_expires_at > timezone.now() + timedelta(minutes=16)
    loner = UserFactory()
    result = assignment_next(user=loner)
    assert (result.labeling, result.reason) == (None, "nothing_left")
    with pytest.raises(NotFound):
        assignment_next(user=loner, project_id=first.pk)
