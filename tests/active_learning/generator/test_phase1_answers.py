"""Phase-1 requests for proposed next steps answered by the generator (issue 18): the loop's
`next_steps_wanted` subscriber sends a `gpu` task by name (active_learning/phase1.py), the worker
side samples with the project's generator and fills the request or marks it failed
(active_learning/generator/phase1.py), and the watchdog / `answer_phase1_requests` catch up on
requests left pending."""

import io
from datetime import timedelta

import pytest
from django.core.cache import cache
from django.core.management import call_command
from django.utils import timezone

from active_learning import phase1 as web_side
from active_learning.generator import phase1 as worker_side
from active_learning.loop import watchdog
from config.celery import app
from labeling.models import AlternativesStatus, Labeling, NextStepAlternatives
from labeling.services import phase1
from tests.active_learning.generator.conftest import tiny_generator
from tests.labeling.services.test_phase1 import save, served  # noqa: F401 (fixture)

pytestmark = pytest.mark.django_db

OWN_STEP = [{"ratings": [-1, -1, -1], "human": "Mine: $x+1=3$."}]


@pytest.fixture
def sent(monkeypatch, settings):
    """The tasks the web side sends: [(name, args, queue)]; short samples."""
    settings.PHASE1_MAX_NEW_TOKENS = 12
    cache.clear()
    calls = []

    def send_task(name, args=(), queue=None, **_):
        calls.append((name, tuple(args), queue))

    monkeypatch.setattr(app, "send_task", send_task)
    return calls


def off_path_request(served, django_capture_on_commit_callbacks):  # noqa: F811
    """The annotator writes their own step: a pending request, its hook fired."""
    _, _, _, labeling = served
    with django_capture_on_commit_callbacks(execute=True):
        save(labeling, OWN_STEP)
    return NextStepAlternatives.objects.get(status=AlternativesStatus.PENDING), labeling


def page_state(labeling) -> dict:
    return phase1.phase1_task_state(Labeling.objects.get(pk=labeling.pk))["open"]


def test_an_off_path_request_is_sent_to_the_gpu_queue(
    served,  # noqa: F811
    sent,
    django_capture_on_commit_callbacks,
):
    """Catches the hook left without a subscriber (the page waits forever), a task sent to the
    wrong queue, or the web side importing the worker's task instead of sending it by name."""
    row, _ = off_path_request(served, django_capture_on_commit_callbacks)
    assert sent == [(web_side.NEXT_STEPS_TASK, (row.pk,), "gpu")]
    route = app.amqp.router.route({}, web_side.NEXT_STEPS_TASK)
    assert route["queue"].name == "gpu"


def test_a_broker_down_never_fails_the_annotators_save(
    served,  # noqa: F811
    monkeypatch,
    django_capture_on_commit_callbacks,
):
    """Catches a subscriber whose broker error reaches the annotator's request."""

    def down(*args, **kwargs):
        raise ConnectionError("broker down")

    monkeypatch.setattr(app, "send_task", down)
    cache.clear()
    row, labeling = off_path_request(served, django_capture_on_commit_callbacks)
    assert page_state(labeling)["status"] == "pending"
    assert row.status == AlternativesStatus.PENDING


def test_the_worker_fills_a_request_and_the_page_shows_it(
    served,  # noqa: F811
    sent,
    django_capture_on_commit_callbacks,
):
    """Catches texts not stored, a source that does not name the model, or a page that still
    waits after the answer."""
    row, labeling = off_path_request(served, django_capture_on_commit_callbacks)
    status = worker_side.next_steps_answer(row.pk, model=tiny_generator())
    row.refresh_from_db()
    assert status == row.status == AlternativesStatus.READY, row.error
    assert 1 <= len(row.texts) <= 3 and all(t.strip() for t in row.texts)
    assert row.source == "generator smollm2"  # the GENERATOR_MODEL setting
    shown = page_state(labeling)
    assert shown["status"] == "ready" and shown["alternatives"] == row.texts


def test_a_second_delivery_leaves_a_ready_row_alone(
    served,  # noqa: F811
    sent,
    django_capture_on_commit_callbacks,
):
    """Catches a redelivered task that samples again and overwrites what annotators saw (or
    fails a ready row): the second delivery would raise if it sampled at all."""
    row, _ = off_path_request(served, django_capture_on_commit_callbacks)
    worker_side.next_steps_answer(row.pk, model=tiny_generator())
    before = NextStepAlternatives.objects.get(pk=row.pk)

    class Exploding:
        def __iter__(self):
            raise AssertionError("the model was used on a ready row")

    assert worker_side.next_steps_answer(row.pk, model=Exploding()) == "ready"
    after = NextStepAlternatives.objects.get(pk=row.pk)
    assert (after.texts, after.source, after.updated_at) == (
        before.texts,
        before.source,
        before.updated_at,
    )
    assert worker_side.next_steps_answer(10**9) == "missing"


def test_a_model_that_cannot_load_fails_the_request_readably(
    served,  # noqa: F811
    sent,
    settings,
    tmp_path,
    django_capture_on_commit_callbacks,
):
    """Catches a failure that leaves the request pending forever, or an error that does not say
    which model failed and why."""
    settings.MODELS_DIR = tmp_path / "models"
    settings.GENERATOR_MODEL = str(tmp_path / "no-such-model")
    row, labeling = off_path_request(served, django_capture_on_commit_callbacks)
    assert worker_side.next_steps_answer(row.pk) == "failed"
    row.refresh_from_db()
    assert row.status == AlternativesStatus.FAILED
    assert "no-such-model" in row.error and "failed" in row.error
    shown = page_state(labeling)
    assert shown["status"] == "failed" and "no-such-model" in shown["error"]


def test_a_request_whose_worker_keeps_dying_is_failed(
    served,  # noqa: F811
    sent,
    django_capture_on_commit_callbacks,
):
    """Catches a request that kills its worker (out of memory) being delivered again forever:
    after MAX_ATTEMPTS starts the next one fails it without touching the model."""
    row, _ = off_path_request(served, django_capture_on_commit_callbacks)
    cache.set(worker_side._attempts_key(row), worker_side.MAX_ATTEMPTS, timeout=60)

    class Exploding:
        def __iter__(self):
            raise AssertionError("the model was used")

    assert worker_side.next_steps_answer(row.pk, model=Exploding()) == "failed"
    row.refresh_from_db()
    assert "stopped 3 times" in row.error


def test_deaths_counted_for_an_earlier_row_with_the_same_id_do_not_fail_a_new_request(
    served,  # noqa: F811
    sent,
    django_capture_on_commit_callbacks,
):
    """Catches the attempt count keyed by the row's id alone: the cache outlives a database
    (CI's third run of the suite, a reset demo), so a new request whose id an earlier database's
    request had used, and died on three times, was failed at its first start with "its worker
    stopped 3 times" (a CI failure). The count belongs to one row's pending life."""
    row, _ = off_path_request(served, django_capture_on_commit_callbacks)
    cache.set(f"phase1-next-steps-attempts:{row.pk}", 99, timeout=60)  # the old key
    stale = row.updated_at - timedelta(days=1)  # an earlier row with this id
    cache.set(
        f"phase1-next-steps-attempts:{row.pk}:{stale.timestamp():.6f}",
        worker_side.MAX_ATTEMPTS,
        timeout=60,
    )
    worker_side.next_steps_answer(row.pk, model=tiny_generator())
    row.refresh_from_db()
    assert row.status != AlternativesStatus.PENDING
    assert "stopped" not in row.error


def test_a_model_that_writes_no_step_fails_the_request(
    served,  # noqa: F811
    sent,
    django_capture_on_commit_callbacks,
):
    """Catches an empty answer stored as `ready` with no alternatives (the page would show
    nothing to rate) or left pending."""
    from active_learning.models import Run

    Run.objects.create(  # greedy: the blank model writes only padding, i.e. nothing
        project=served[0],
        trigger="manual",
        status="succeeded",
        params={"generate": {"options": {"temperature": 0}}},
    )
    row, _ = off_path_request(served, django_capture_on_commit_callbacks)
    assert worker_side.next_steps_answer(row.pk, model=tiny_generator(blank=True)) == "failed"
    row.refresh_from_db()
    assert row.texts == [] and "no usable next step" in row.error


def test_the_project_generator_options_come_from_its_last_generate_run(served):  # noqa: F811
    """Catches the lead's choice of generator ignored for phase-1 proposals."""
    from active_learning.models import Run

    project = served[0]
    assert worker_side.project_generator_options(project.pk).model == "smollm2"
    Run.objects.create(
        project=project,
        trigger="manual",
        status="succeeded",
        params={"generate": {"options": {"model": "my/generator", "temperature": 0.3}}},
    )
    options = worker_side.project_generator_options(project.pk)
    assert (options.model, options.temperature) == ("my/generator", 0.3)


def test_the_watchdog_sends_an_old_pending_request_again_once(
    served,  # noqa: F811
    sent,
    settings,
    django_capture_on_commit_callbacks,
):
    """Catches a request lost with its message staying pending forever, a fresh request sent
    twice, or an old one sent again every minute."""
    settings.PHASE1_ANSWER_AFTER_SECONDS = 60
    row, _ = off_path_request(served, django_capture_on_commit_callbacks)
    cache.clear()  # the first send is forgotten (as after a lost message and its marker)
    sent.clear()
    assert watchdog.runs_watchdog()["next_steps"] == []  # too fresh
    NextStepAlternatives.objects.filter(pk=row.pk).update(
        updated_at=timezone.now() - timedelta(minutes=5)
    )
    assert watchdog.runs_watchdog()["next_steps"] == [row.pk]
    assert sent == [(web_side.NEXT_STEPS_TASK, (row.pk,), "gpu")]
    assert watchdog.runs_watchdog()["next_steps"] == []  # sent recently: not again


def test_the_command_answers_old_pending_requests_in_process(
    served,  # noqa: F811
    sent,
    settings,
    tmp_path,
    tiny_generator_dir,
    django_capture_on_commit_callbacks,
):
    """Catches the catch-up command skipping an old request, or answering a fresh one it was
    told to leave (--older-than)."""
    settings.MODELS_DIR = tmp_path / "models"
    settings.GENERATOR_MODEL = tiny_generator_dir
    row, _ = off_path_request(served, django_capture_on_commit_callbacks)
    out = io.StringIO()
    call_command("answer_phase1_requests", "--older-than", "60", stdout=out)
    assert "0 pending request(s)" in out.getvalue()
    NextStepAlternatives.objects.filter(pk=row.pk).update(
        updated_at=timezone.now() - timedelta(minutes=5)
    )
    call_command("answer_phase1_requests", "--older-than", "60", stdout=out)
    row.refresh_from_db()
    assert row.status != AlternativesStatus.PENDING
    assert f"request {row.pk}: {row.status}" in out.getvalue()
    assert row.source == f"generator {tiny_generator_dir}"
