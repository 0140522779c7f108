"""Adjudication (issue 19 part 4): a lead's ruling on a solution's first error changes the
training data and the export's extension field, never the original labelings."""

import io
import json

import pytest

from active_learning.services.training import training_data
from labeling.models import Adjudication, Labeling, Role, StepRating
from labeling.services.prm800k_export import prm800k_export
from tests.factories import LabelingFactory, ProjectFactory, SolutionFactory, UserFactory
from training_recipe.prm800k import NEGATIVE, POSITIVE, from_first_error

pytestmark = pytest.mark.django_db

STEPS = ["a = 1.", "b = 2.", "a + b = 4.", "# Answer\n\n4"]


def _label_steps(ratings):
    return [
        {
            "completions": [{"text": STEPS[i], "rating": r, "flagged": False}],
            "human_completion": None,
            "chosen_completion": 0 if r != -1 else None,
        }
        for i, r in enumerate(ratings)
    ]


@pytest.fixture
def setup():
    project = ProjectFactory()
    solution = SolutionFactory(problem__project=project, steps=STEPS)
    other = SolutionFactory(problem__project=project)
    first = LabelingFactory(
        solution=solution, steps=_label_steps([1, -1]), finish_reason="found_error"
    )
    second = LabelingFactory(
        solution=solution, steps=_label_steps([1, 1, 1, 1]), finish_reason="solution"
    )
    LabelingFactory(solution=other)
    for labeling in (first, second):
        StepRating.objects.create(labeling=labeling, step_index=0, completion_index=0, rating=1)
    lead = UserFactory(role=Role.LEAD)
    return project, solution, lead


def _examples_of(project, solution_id):
    train, held_out, _ = training_data(project)
    return sorted(
        ([e.steps, e.labels] for e in train + held_out if e.meta["solution_id"] == solution_id),
        key=str,
    )


def _export(project):
    out = io.StringIO()
    prm800k_export(project=project, out=out)
    return out.getvalue().splitlines()


def test_adjudication_changes_training_data_and_not_the_labelings(client, setup):
    """Before: the two labelings' examples (first error at step 1; no error). After ruling
    "step 2 (0-based) is the first error": one example, positive up to it, negative at it.
    Catches training that still reads the labelings, and a ruling that edits them."""
    project, solution, lead = setup
    examples_before = _examples_of(project, solution.pk)
    # from the labelings (the recipe's own tests say how): the one with no error trains all
    # four steps positive
    assert [STEPS, [POSITIVE] * 4] in examples_before and len(examples_before) >= 2
    before = list(Labeling.objects.filter(solution=solution).values().order_by("id"))
    ratings_before = list(StepRating.objects.values().order_by("id"))
    other_lines = [line for line in _export(project)]

    client.force_login(lead)
    response = client.put(
        f"/api/projects/{project.pk}/solutions/{solution.pk}/adjudication/",
        {"first_error": 2, "note": "step 3 adds wrongly"},
        content_type="application/json",
    )
    assert response.status_code == 200, response.content
    assert response.json()["adjudication"]["first_error"] == 2

    assert _examples_of(project, solution.pk) == [[STEPS[:3], [POSITIVE, POSITIVE, NEGATIVE]]]
    assert list(Labeling.objects.filter(solution=solution).values().order_by("id")) == before
    assert list(StepRating.objects.values().order_by("id")) == ratings_before

    # the export: the adjudicated solution's lines gain the extension field at the end and
    # are otherwise byte for byte the same; the other solution's line is unchanged
    after = _export(project)
    adjudicated_ids = {lab["id"] for lab in before}
    exported = list(Labeling.objects.filter(project=project).order_by("id"))
    for labeling, old, new in zip(exported, other_lines, after, strict=True):
        if labeling.pk in adjudicated_ids:
            assert new == old[:-1] + ', "adjudication": {"first_error": 2}}'
            assert json.loads(new)["adjudication"] == {"first_error": 2}
        else:
            assert new == old


def test_no_error_ruling_trains_every_step_positive(setup):
    project, solution, lead = setup
    Adjudication.objects.create(
        project=project, solution=solution, first_error=-1, adjudicated_by=lead
    )
    assert _examples_of(project, solution.pk) == [[STEPS, [POSITIVE] * 4]]


def test_a_bad_first_error_is_refused_naming_the_field_and_changes_nothing(client, setup):
    project, solution, lead = setup
    client.force_login(lead)
    url = f"/api/projects/{project.pk}/solutions/{solution.pk}/adjudication/"
    response = client.put(url, {"first_error": 4}, content_type="application/json")
    assert response.status_code == 400 and "first_error" in response.content.decode()
    assert not Adjudication.objects.exists()
    client.force_login(UserFactory(role=Role.ANNOTATOR))
    assert client.put(url, {"first_error": 1}, content_type="application/json").status_code == 403
    assert not Adjudication.objects.exists()


def test_the_page_shows_the_labelings_side_by_side_and_records_the_ruling(client, setup):
    project, solution, lead = setup
    client.force_login(lead)
    url = f"/projects/{project.pk}/solutions/{solution.pk}/adjudicate/"
    html = client.get(url).content.decode()
    assert 'data-testid="adjudicate"' in html
    assert html.count('<th title="labeling ') == 2  # one column per labeling
    assert "Negative" in html and "step 2" in html and "none" in html
    response = client.post(url, {"first_error": "1", "note": "agreed"})
    assert response.status_code == 302
    assert Adjudication.objects.get(solution=solution).first_error == 1
    assert client.post(url, {"first_error": "x"}).status_code == 400


def test_the_page_renders_math_and_has_the_project_nav(client, setup):
    """Would catch the adjudication page showing TeX as source (no KaTeX, no .math texts) or
    lacking the project navigation every other lead page has (issue 14). The math is rendered
    by script files only (the CSP forbids inline scripts)."""
    project, solution, lead = setup
    client.force_login(lead)
    html = client.get(f"/projects/{project.pk}/solutions/{solution.pk}/adjudicate/").content
    html = html.decode()
    assert 'class="project-nav"' in html and f"/projects/{project.pk}/stats/" in html
    for script in ("katex.min.js", "auto-render.min.js", "task-math.js", "adjudicate.js"):
        assert f'{script}" defer></script>' in html, script
    assert "<script>" not in html  # no inline script
    assert html.count('class="math text"') == 1 + len(STEPS)  # the problem and every step


def test_the_recipe_refuses_a_step_outside_the_solution():
    with pytest.raises(ValueError, match="first_error 4"):
        from_first_error("p", STEPS, 4)


def test_an_imported_line_that_carries_the_key_gets_the_projects_ruling_once(setup):
    """A kept source line that already has an `adjudication` key (stored by an import made
    before the import turned the key into a ruling) is written with this project's ruling in
    that key, not a second key (catches duplicate JSON keys), and without the key when the
    project has no ruling (catches a key the project's data does not back, which training
    would not use)."""
    from labeling.services.prm800k_export import labeling_line

    _, solution, _ = setup
    labeling = Labeling.objects.filter(solution=solution).first()
    labeling.source_line = json.dumps({"labeler": "x", "adjudication": {"first_error": 0}})
    labeling.adjudicated_first_error = 3
    line = labeling_line(labeling)
    assert line.count('"adjudication"') == 1
    assert json.loads(line)["adjudication"] == {"first_error": 3}
    labeling.adjudicated_first_error = None
    assert labeling_line(labeling) == '{"labeler": "x"}'
    labeling.source_line = '{"adjudication": {"first_error": 0},  "labeler": "x"}'
    assert labeling_line(labeling) == '{"labeler": "x"}'


@pytest.mark.parametrize(
    "note, field",
    [("a\x00b", "note"), ("x" * 2001, "note")],
    ids=["nul", "huge"],
)
def test_the_page_refuses_a_bad_note_naming_it_and_changes_nothing(client, setup, note, field):
    """The page's form obeys the API's rules for the note (text policy, at most 2000
    characters): a 400 naming `note` and no ruling. Catches a NUL reaching PostgreSQL (a 500)
    and a long note silently cut to 2000 characters."""
    project, solution, lead = setup
    client.force_login(lead)
    url = f"/projects/{project.pk}/solutions/{solution.pk}/adjudicate/"
    response = client.post(url, {"first_error": "1", "note": note})
    assert response.status_code == 400
    assert field in response.content.decode()
    assert not Adjudication.objects.exists()


@pytest.mark.parametrize(
    "body, field",
    [
        ({"first_error": -2}, "first_error"),
        ({"first_error": 4}, "first_error"),
        ({"first_error": 10**9}, "first_error"),
        ({"first_error": "abc"}, "first_error"),
        ({"first_error": 1.5}, "first_error"),
        ({"first_error": True}, "first_error"),
        ({"first_error": None}, "first_error"),
        ({"first_error": [1]}, "first_error"),
        ({}, "first_error"),
        ({"first_error": 1, "note": "x" * 2001}, "note"),
        ({"first_error": 1, "note": "a\x00b"}, "note"),
    ],
)
def test_the_api_refuses_hostile_input_naming_the_field_and_changes_nothing(
    client, setup, body, field
):
    """Each hostile body is a 400 naming its field; no ruling is stored and the labelings
    are unchanged (catches a 500 or a ruling stored from a coerced value)."""
    project, solution, lead = setup
    before = list(Labeling.objects.order_by("id").values_list("id", "steps", "finish_reason"))
    client.force_login(lead)
    url = f"/api/projects/{project.pk}/solutions/{solution.pk}/adjudication/"
    response = client.put(url, body, content_type="application/json")
    assert response.status_code == 400, response.content
    assert field in response.content.decode()
    assert not Adjudication.objects.exists()
    assert list(Labeling.objects.order_by("id").values_list("id", "steps", "finish_reason")) == (
        before
    )


def test_a_lead_of_the_api_sees_another_projects_solution_as_404(client, setup):
    """A solution id of another project is a 404 for GET and PUT, with no ruling stored."""
    project, _, lead = setup
    stranger = SolutionFactory()
    LabelingFactory(solution=stranger)
    client.force_login(lead)
    url = f"/api/projects/{project.pk}/solutions/{stranger.pk}/adjudication/"
    assert client.get(url).status_code == 404
    assert client.put(url, {"first_error": 0}, content_type="application/json").status_code == 404
    assert not Adjudication.objects.exists()


def test_the_page_shows_a_long_step_whole(client, setup):
    """Would catch the adjudication page cutting a step's text (it once cut at 300 characters,
    mid-formula, so KaTeX showed raw `\\[ \\log_{x} 2 + …`): a 400-character step is on the
    page whole, in a cell that scrolls (class step-cell in app.css; the CSP forbids inline
    styles)."""
    project, solution, lead = setup
    long_step = ("\\[ " + " + ".join(["\\log_{x} 2"] * 40))[:398] + "\\]"
    assert len(long_step) == 400
    solution.steps = [long_step, *STEPS[1:]]
    solution.save(update_fields=["steps"])
    client.force_login(lead)
    html = client.get(f"/projects/{project.pk}/solutions/{solution.pk}/adjudicate/").content
    html = html.decode()
    assert long_step in html
    assert 'class="step-cell"' in html and 'style="' not in html
