"""A run's page (/projects/<p>/runs/<r>/) shows its parameters as a table a lead can read.
Issue 14: "Parameters" printed the params dict as Python wrote it (`{'…': False, 'generate':
None}`)."""

import pytest

from active_learning.loop.params import run_params
from active_learning.models import Run, RunTrigger
from active_learning.selectors import run_param_rows
from labeling.models import Role
from tests.factories import ProjectFactory, UserFactory

pytestmark = pytest.mark.django_db


def test_the_run_page_shows_parameters_as_named_rows_not_a_python_dict(client):
    """Would catch the raw dict coming back (braces, quotes, False/None) and booleans or empty
    values shown any other way than yes/no and an em dash."""
    project = ProjectFactory()
    params = {**run_params(project), "generate": None}
    params["exclude_gold"] = False
    params["train"] = {"epochs": 2, "lora": True}
    run = Run.objects.create(project=project, trigger=RunTrigger.LEAD, params=params)
    client.force_login(UserFactory(role=Role.LEAD))
    html = client.get(f"/projects/{project.pk}/runs/{run.pk}/").content.decode()
    table = html.split('data-testid="params"')[1].split("</table>")[0]
    assert "{" not in table and "False" not in table and "None" not in table
    assert "&#x27;" not in table and "'" not in table
    assert "<code>generate</code></th><td>—</td>" in table
    assert "<code>exclude_gold</code></th><td>no</td>" in table
    assert "<code>train.epochs</code></th><td>2</td>" in table
    assert "<code>train.lora</code></th><td>yes</td>" in table
    assert f"<code>strategy</code></th><td>{params['strategy']}</td>" in table


def test_param_rows_flatten_nested_settings_and_spell_out_values():
    """The rows' rules on their own: nested dicts dotted, lists joined, empty values a dash."""
    rows = run_param_rows({"a": True, "b": None, "c": {}, "d": {"e": [1, None]}, "f": 0.5, "g": ""})
    assert rows == [("a", "yes"), ("b", "—"), ("c", "—"), ("d.e", "1, —"), ("f", "0.5"), ("g", "—")]


def test_a_whitespace_only_value_is_shown_visibly():
    """Would catch a parameter whose value is only whitespace (generate.options.step_separator
    "\\n\\n") showing as a blank cell: it is its JSON string literal, "\\n\\n"."""
    rows = run_param_rows({"generate": {"options": {"step_separator": "\n\n", "sep": " "}}})
    assert rows == [
        ("generate.options.step_separator", '"\\n\\n"'),
        ("generate.options.sep", '" "'),
    ]
