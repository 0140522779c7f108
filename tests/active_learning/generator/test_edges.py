"""The generator's edges: the API, the lead page, the loop form's generate option, the run page
and the `generate_solutions` command."""

import pytest
from django.core.management import CommandError, call_command

from active_learning.loop import in_process, triggers
from active_learning.models import Run, RunStatus, RunTrigger
from labeling.models import Role, Solution
from tests.factories import ProblemFactory, ProjectFactory, UserFactory

pytestmark = pytest.mark.django_db

FAST = {"samples_per_problem": 2, "max_new_tokens": 8, "batch_size": 4, "temperature": 1.0}


@pytest.fixture
def lead(client):
    user = UserFactory(role=Role.LEAD)
    client.force_login(user)
    return user


def test_api_starts_a_generator_run_and_refuses_a_second(client, lead):
    project = ProjectFactory()
    problem = ProblemFactory(project=project)
    response = client.post(
        f"/api/projects/{project.pk}/generate/",
        {"model": "org/math-model", "samples_per_problem": 8, "problem_ids": [problem.pk]},
        content_type="application/json",
    )
    assert response.status_code == 202, response.content
    body = response.json()
    generate = body["params"]["generate"]
    assert generate["only"] is True and generate["problem_ids"] == [problem.pk]
    assert generate["options"]["model"] == "org/math-model"
    assert generate["options"]["samples_per_problem"] == 8
    assert body["status"] == "queued" and body["trigger"] == "api"
    again = client.post(
        f"/api/projects/{project.pk}/generate/", {}, content_type="application/json"
    )
    assert again.status_code == 409
    stop = client.post(f"/api/runs/{body['id']}/stop/")
    assert stop.status_code == 200 and stop.json()["status"] == "failed"
    assert client.post(f"/api/runs/{body['id']}/stop/").status_code == 409


def test_api_names_a_failing_prompt_template_and_queues_nothing(client, lead):
    """A template with single LaTeX braces is a 400 that names the field and says how to fix
    it, and no run is created (catches a template that fails only on the worker)."""
    project = ProjectFactory()
    response = client.post(
        f"/api/projects/{project.pk}/generate/",
        {"prompt_template": "Compute \\frac{1}{2} of {problem}"},
        content_type="application/json",
    )
    assert response.status_code == 400
    errors = response.json()["errors"]
    assert errors[0].startswith("generate.prompt_template: unknown field(s) {1}, {2}")
    assert "literal braces" in errors[0]
    assert not Run.objects.exists()


def test_api_loop_run_with_a_generate_stage(client, lead):
    project = ProjectFactory()
    response = client.post(
        f"/api/projects/{project.pk}/runs/",
        {"generate": {"samples_per_problem": 3}},
        content_type="application/json",
    )
    assert response.status_code == 202, response.content
    generate = response.json()["params"]["generate"]
    assert generate["only"] is False and generate["options"]["samples_per_problem"] == 3
    plain = Run.objects.get()
    triggers.run_cancel(run=plain)
    response = client.post(f"/api/projects/{project.pk}/runs/", {}, content_type="application/json")
    assert response.json()["params"]["generate"] is None


def test_annotators_cannot_see_or_start_the_generator(client):
    project = ProjectFactory()
    user = UserFactory(role=Role.ANNOTATOR)
    project.members.add(user)
    client.force_login(user)
    assert client.get(f"/projects/{project.pk}/generator/").status_code == 403
    assert client.post(f"/projects/{project.pk}/generator/run/").status_code == 403
    assert client.post(f"/api/projects/{project.pk}/generate/", {}).status_code == 403
    assert not Run.objects.exists()


def test_generator_page_starts_a_run_and_shows_bad_options_on_their_field(client, lead):
    project = ProjectFactory()
    page = client.get(f"/projects/{project.pk}/generator/").content.decode()
    assert 'data-testid="generator-form"' in page and "No generator runs yet" in page
    assert "smollm2" in page  # the demo backbone, and the warning that its steps are poor
    form = {
        "model": "",
        "samples_per_problem": 2,
        "temperature": 0.5,
        "top_p": 0.9,
        "max_new_tokens": 64,
        "seed": 3,
        "batch_size": 4,
        "prompt_template": "Solve {problem} in {steps} steps",
        "step_separator": "\\n",
        "only_needed": "on",
    }
    bad = client.post(f"/projects/{project.pk}/generator/run/", form)
    assert bad.status_code == 400
    html = bad.content.decode()
    assert 'data-testid="error-prompt_template"' in html and "{steps}" in html
    assert "Solve {problem} in {steps} steps</textarea>" in html  # what was typed stays
    assert not Run.objects.exists()
    form["prompt_template"] = "Solve: {problem}\n"
    response = client.post(f"/projects/{project.pk}/generator/run/", form)
    run = Run.objects.get()
    assert response.status_code == 302 and response.url == f"/projects/{project.pk}/runs/{run.pk}/"
    options = run.params["generate"]["options"]
    assert options["step_separator"] == "\n" and options["seed"] == 3
    assert options["model"] == "smollm2"  # the GENERATOR_MODEL setting
    assert run.requested_by == lead and run.trigger == RunTrigger.LEAD
    detail = client.get(response.url).content.decode()
    assert 'data-testid="stop"' in detail
    stopped = client.post(f"/projects/{project.pk}/runs/{run.pk}/stop/", follow=True)
    assert "stopped" in stopped.content.decode()
    run.refresh_from_db()
    assert run.status == RunStatus.FAILED
    listing = client.get(f"/projects/{project.pk}/generator/").content.decode()
    assert f"/runs/{run.pk}/" in listing


def test_loop_form_can_generate_first(client, lead):
    project = ProjectFactory()
    client.post(f"/projects/{project.pk}/loop/run/", {"generate_samples": "5"})
    run = Run.objects.get()
    assert run.params["generate"]["options"]["samples_per_problem"] == 5
    assert run.params["generate"]["only"] is False
    triggers.run_cancel(run=run)
    response = client.post(
        f"/projects/{project.pk}/loop/run/", {"generate_samples": "many"}, follow=True
    )
    assert "is not a whole number" in response.content.decode()
    assert Run.objects.count() == 1


def test_run_page_shows_the_generate_stage_and_its_throughput(
    client, lead, blank_generator_dir, generator_settings
):
    project = ProjectFactory()
    ProblemFactory(project=project)
    run = in_process.run_round(
        project,
        generate={"only": True, "model": blank_generator_dir, **FAST, "temperature": 0},
    )
    html = client.get(f"/projects/{project.pk}/runs/{run.pk}/").content.decode()
    assert 'data-testid="generation-throughput"' in html and "solutions/s" in html
    assert "2 without parseable steps" in html
    loop = client.get(f"/projects/{project.pk}/loop/").content.decode()
    assert "<th>Generate</th>" in loop
    body = client.get(f"/api/runs/{run.pk}/").json()
    assert body["throughput"]["generation"]["no_steps"] == 2 and body["stage"] == "done"


def test_command_generates_and_reports(tiny_generator_dir, generator_settings, capsys):
    project = ProjectFactory(name="gen-cmd")
    ProblemFactory(project=project)
    call_command(
        "generate_solutions",
        "--project",
        "gen-cmd",
        "--model",
        tiny_generator_dir,
        "-n",
        "2",
        "--max-new-tokens",
        "8",
        "--seed",
        "4",
    )
    out = capsys.readouterr().out
    run = Run.objects.get(project=project)
    assert out.startswith(f"Run {run.pk}: generated 2 of 2 solutions for 1 problem(s)")
    assert run.status == RunStatus.SUCCEEDED and run.trigger == RunTrigger.COMMAND
    assert {s.metadata["generated"]["seed"] for s in Solution.objects.filter(project=project)} <= {
        4
    }


def test_command_errors_are_clear(tmp_path, generator_settings):
    project = ProjectFactory(name="gen-bad")
    ProblemFactory(project=project)
    with pytest.raises(CommandError, match="no such file or folder"):
        call_command(
            "generate_solutions", "--project", "gen-bad", "--model", str(tmp_path / "nope")
        )
    assert Run.objects.get(project=project).status == RunStatus.FAILED
    template = tmp_path / "t.txt"
    template.write_text("no field here")
    with pytest.raises(CommandError, match="must contain \\{problem\\}"):
        call_command(
            "generate_solutions", "--project", "gen-bad", "--prompt-template-file", str(template)
        )
    with pytest.raises(CommandError, match="No project named"):
        call_command("generate_solutions", "--project", "missing")


@pytest.mark.parametrize(
    ("content", "says"),
    [
        (b"Problem: {problem}\x00", "prompt_template: contains the control character U\\+0000"),
        (b"Problem: {problem} \xff\xfe", "--prompt-template-file: not UTF-8 text"),
    ],
)
def test_a_template_file_the_platform_cannot_use_is_a_clear_error(tmp_path, content, says):
    """A template file with a NUL was a `DataError: unsupported Unicode escape sequence` (on
    PostgreSQL; SQLite queued it), one that is not UTF-8 a traceback. Catches either: the
    command names the field and no run is made."""
    ProblemFactory(project=ProjectFactory(name="gen-file"))
    template = tmp_path / "t.txt"
    template.write_bytes(content)
    with pytest.raises(CommandError, match=says):
        call_command(
            "generate_solutions", "--project", "gen-file", "--prompt-template-file", str(template)
        )
    assert not Run.objects.exists()


def test_demo_generator_project_and_its_one_run():
    """The demo makes its generator project once, with the demo lead as a member, and queues
    one small generator run on the shipped backbone; running it again queues nothing more."""
    from active_learning.management.commands.setup_demo_generator import (
        DEMO_GENERATOR_PROJECT,
        DEMO_OPTIONS,
    )

    lead = UserFactory(username="lead", role=Role.LEAD)
    call_command("setup_demo_generator")
    call_command("setup_demo_generator")
    run = Run.objects.get()
    project = run.project
    assert project.name == DEMO_GENERATOR_PROJECT and project.problems.count() == 4
    assert project.members.filter(pk=lead.pk).exists()
    assert run.params["generate"]["options"]["model"] == "smollm2"
    assert run.params["generate"]["options"]["max_new_tokens"] == DEMO_OPTIONS["max_new_tokens"]
    assert run.status == RunStatus.QUEUED


def test_demo_generator_run_can_be_left_out(settings):
    settings.DEMO_GENERATOR_RUN = False
    UserFactory(username="lead", role=Role.LEAD)
    call_command("setup_demo_generator")
    assert ProjectFactory._meta.model.objects.filter(name__startswith="MATH demo: gen").exists()
    assert not Run.objects.exists()
