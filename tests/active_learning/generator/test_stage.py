"""The generate stage of a run and the stand-alone generator run (tiny models, in process)."""

import pytest

from active_learning import generator_runs, tasks
from active_learning.generator import stage
from active_learning.generator.sampling import GeneratorError
from active_learning.loop import in_process, runs, triggers
from active_learning.loop.stages import train
from active_learning.models import Run, RunStage, RunStatus, RunTrigger
from labeling.errors import ApplicationError, Conflict
from labeling.models import Solution
from tests.active_learning.conftest import loop_project
from tests.factories import ProblemFactory, ProjectFactory

pytestmark = pytest.mark.django_db

FAST = {"samples_per_problem": 2, "max_new_tokens": 10, "batch_size": 4, "temperature": 1.0}


def test_a_generate_only_run_generates_grades_and_succeeds(tiny_generator_dir, generator_settings):
    """The generator run: stage `generate` timed, throughput recorded as solutions/s, every
    stored solution pointing back at the run, and no training (catches a generate-only run
    that goes on to train a PRM on nothing)."""
    project = ProjectFactory()
    ProblemFactory(project=project)
    ProblemFactory(project=project)
    run = in_process.run_round(
        project,
        trigger=RunTrigger.COMMAND,
        generate={"only": True, "options": {"model": tiny_generator_dir, **FAST}},
    )
    assert run.status == RunStatus.SUCCEEDED and run.stage == RunStage.DONE
    assert run.percent == 100 and run.model_version is None
    assert set(run.stage_seconds) == {"generate"}
    figures = run.throughput["generation"]
    assert figures["sampled"] == 4 and figures["solutions_per_second"] > 0
    stored = Solution.objects.filter(project=project)
    assert stored.count() == figures["stored"]
    assert {s.metadata["generated"]["run"] for s in stored} == {run.pk}
    assert "generated 4 of 4 solutions for 2 problem(s)" in run.log


def test_the_loop_generates_for_the_problems_that_need_it_then_trains_scores_and_selects(
    tiny_backbone, tiny_generator_dir, loop_models_dir
):
    """A run with the generate stage: new problems without candidates get N samples each
    before scoring, and the new candidates are scored and can be selected (catches a stage
    that runs after the candidates were listed)."""
    project, pool = loop_project(tiny_backbone, labeled=8, per_problem=2)
    fresh = [ProblemFactory(project=project) for _ in range(2)]
    run = in_process.run_round(project, generate={"model": tiny_generator_dir, **FAST})
    assert run.status == RunStatus.SUCCEEDED
    assert set(run.stage_seconds) == {"generate", "train", "score", "select"}
    figures = run.throughput["generation"]
    # the pool's problems already hold 2 unlabeled candidates: only the 8 problems whose one
    # solution is labeled and the 2 fresh ones need samples
    assert figures["problems"] == 8 + len(fresh)
    generated = Solution.objects.filter(project=project, source="generated")
    assert generated.count() == figures["stored"] > 0
    assert not generated.filter(problem__in={s.problem_id for s in pool}).exists()
    assert run.candidates == len(pool) + figures["stored"]
    assert "scoring" in run.throughput and "training" in run.throughput


def test_a_generator_with_nothing_parseable_does_not_fail_the_run(
    blank_generator_dir, generator_settings
):
    project = ProjectFactory()
    ProblemFactory(project=project)
    run = in_process.run_round(
        project,
        generate={"only": True, "model": blank_generator_dir, **FAST, "temperature": 0},
    )
    assert run.status == RunStatus.SUCCEEDED
    assert run.throughput["generation"]["no_steps"] == 2
    assert "2 without parseable steps" in run.log and "no steps in: ''" in run.log
    assert not Solution.objects.filter(project=project).exists()


def test_an_unknown_model_fails_the_run_with_its_name(generator_settings, tmp_path):
    project = ProjectFactory()
    ProblemFactory(project=project)
    missing = str(tmp_path / "nowhere")
    with pytest.raises(GeneratorError):
        in_process.run_round(project, generate={"only": True, "model": missing, **FAST})
    run = Run.objects.get(project=project)
    assert run.status == RunStatus.FAILED
    assert f"generator model {missing!r}: no such file or folder" in run.error


def test_a_bad_prompt_template_is_refused_before_a_run_exists():
    """Checked at the trigger (the web process): a 400-style error naming the field, and no
    run is created (catches a template that only fails on the worker)."""
    project = ProjectFactory()
    with pytest.raises(ApplicationError) as caught:
        triggers.run_trigger(
            project=project,
            trigger=RunTrigger.API,
            params={"generate": {"prompt_template": "Solve \\frac{1}{2} {problem}"}},
        )
    assert caught.value.details[0].startswith("generate.prompt_template: unknown field(s)")
    assert not Run.objects.filter(project=project).exists()


def test_the_task_ends_a_generate_only_run_without_training(
    tiny_generator_dir, generator_settings, monkeypatch
):
    project = ProjectFactory()
    ProblemFactory(project=project)
    run = triggers.run_create(
        project=project,
        trigger=RunTrigger.LEAD,
        params={"generate": {"only": True, "model": tiny_generator_dir, **FAST}},
    )
    monkeypatch.setattr(train, "run_train", lambda run_id: pytest.fail("trained"))
    tasks.run_start(run.pk)
    run.refresh_from_db()
    assert run.status == RunStatus.SUCCEEDED and run.stage == RunStage.DONE


def test_stopping_a_generating_run_ends_it_after_the_batch_in_flight(
    tiny_generator_dir, generator_settings
):
    """A lead stops a running generator run: the stage sees it before the next batch, keeps
    what it stored, and the run stays failed with the lead's reason (catches a stop that is
    overwritten by the stage's success)."""
    project = ProjectFactory()
    for _ in range(4):
        ProblemFactory(project=project)
    run = triggers.run_create(
        project=project,
        trigger=RunTrigger.LEAD,
        params={"generate": {"only": True, "model": tiny_generator_dir, **FAST, "batch_size": 2}},
        in_process=True,
    )
    runs.run_begin(run.pk)
    from active_learning.generator import services

    real = services.samples_store
    calls = []

    def store_then_stop(**kwargs):
        calls.append(1)
        if len(calls) == 1:
            generator_runs.generation_stop(run=Run.objects.get(pk=run.pk))
        return real(**kwargs)

    services.samples_store = store_then_stop
    try:
        assert stage.run_generate(run.pk) is True
    finally:
        services.samples_store = real
    run.refresh_from_db()
    assert run.status == RunStatus.FAILED and "stopped by a lead" in run.error
    assert len(calls) == 1  # one batch of 2 samples (one problem), then it stopped
    assert run.stage_seconds.get("generate") is not None
    # the run page shows what the stopped run made (the figures were written only while the
    # run was running, so a run stopped in its first second showed none)
    figures = run.throughput["generation"]
    assert figures["sampled"] == 2 and figures["stopped"] is True
    assert figures["stored"] == Solution.objects.filter(project=project).count()
    with pytest.raises(Conflict):
        generator_runs.generation_stop(run=run)


def test_a_retry_repeats_the_generation(tiny_generator_dir, generator_settings, tmp_path):
    project = ProjectFactory()
    ProblemFactory(project=project)
    generate = {"only": True, "model": str(tmp_path / "missing"), **FAST}
    with pytest.raises(GeneratorError):
        in_process.run_round(project, generate=generate)
    failed = Run.objects.get(project=project)
    retry = triggers.run_retry(run=failed)
    assert retry.params["generate"] == failed.params["generate"]
    assert retry.params["generate"]["options"]["seed"] == 0


def test_a_project_of_problems_alone_gets_a_first_generation_in_one_run(
    tiny_generator_dir, generator_settings
):
    """The loop from problems alone: no solution, no label, no model. The run generates, grades
    and stores candidates, then (nothing to train on) publishes a generation chosen uniformly
    at random, which annotators are served; it does not fail on "no usable labels" (catches a
    cold start that needs an import first)."""
    from active_learning.models import LoopSettings
    from labeling.models import Generation

    project = ProjectFactory()
    problems = [ProblemFactory(project=project) for _ in range(3)]
    LoopSettings.objects.create(project=project, batch_size=4, per_problem_cap=2)
    run = in_process.run_round(project, generate={"model": tiny_generator_dir, **FAST})
    assert run.status == RunStatus.SUCCEEDED, run.error
    assert run.model_version is None and set(run.stage_seconds) == {"generate"}
    generation = Generation.objects.get(project=project)
    assert run.generation == generation and generation.number == 0
    assert generation.strategy == "uniform" and generation.params["cold_start"] is True
    items = list(generation.items.select_related("solution"))
    assert 1 <= len(items) <= 4
    assert {i.solution.source for i in items} == {"generated"}
    assert {i.solution.problem_id for i in items} <= {p.pk for p in problems}
    assert "cold start" in run.log and "published generation 0" in run.log
    from labeling.services.assignments import current_generation

    assert current_generation(project) == generation


def test_the_stage_sends_heartbeats_while_a_batch_runs(
    tiny_generator_dir, generator_settings, monkeypatch
):
    """With the throttle at 0 s, the run's heartbeat moves between the start of sampling and
    the storing of the first batch, i.e. from inside the batch (catches heartbeats only
    between batches, which a batch of minutes on a CPU would outlast)."""
    from datetime import timedelta

    from django.utils import timezone

    from active_learning.generator import services

    monkeypatch.setattr(stage, "HEARTBEAT_EVERY_SECONDS", 0.0)
    old = timezone.now() - timedelta(hours=1)
    seen = []
    real_store, real_generate = services.samples_store, stage.solutions_generate

    def store(**kwargs):
        seen.append(Run.objects.get().heartbeat_at)
        return real_store(**kwargs)

    def generate(**kwargs):
        Run.objects.update(heartbeat_at=old)  # as if the stage had been silent for an hour
        return real_generate(**kwargs)

    monkeypatch.setattr(services, "samples_store", store)
    monkeypatch.setattr(stage, "solutions_generate", generate)
    project = ProjectFactory()
    ProblemFactory(project=project)
    run = triggers.run_create(
        project=project,
        trigger=RunTrigger.LEAD,
        params={"generate": {"only": True, "model": tiny_generator_dir, **FAST}},
        in_process=True,
    )
    runs.run_begin(run.pk)
    stage.run_generate(run.pk)
    assert seen and seen[0] > old
