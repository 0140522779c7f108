"""User-written text and user names on pages are isolated (issue 13, "hostile text"): a give-up
reason holding U+202E showed reversed on the statistics page ("evil" read "live"), a user named
"\\u202emoc.evil" read "live.com", a "\\u200b" name was a blank row. Texts stored before the text
policy refused these characters still render safely: wrapped in `<bdi>` (the `isolate` filter)
with the control written out. Runs on PostgreSQL and SQLite."""

import re
from pathlib import Path

import pytest

from labeling.models import Role
from labeling.templatetags.labeling_extras import isolate
from tests.factories import LabelingFactory, ProjectFactory, UserFactory

TEMPLATES = Path(__file__).resolve().parents[2] / "templates"


def test_the_filter_escapes_isolates_and_shows_controls():
    assert isolate("<b>x</b>") == "<bdi>&lt;b&gt;x&lt;/b&gt;</bdi>"
    assert isolate("\u202emoc.evil") == "<bdi>[U+202E]moc.evil</bdi>"
    assert isolate("\u200b") == "<bdi>[U+200B]</bdi>"
    assert isolate(None) == "<bdi></bdi>"


@pytest.mark.django_db
def test_the_statistics_page_isolates_reasons_and_names(client):
    """Catches a reason or a user name shown raw, so its bidi override reorders the page."""
    project = ProjectFactory()
    spoof = UserFactory(username="\u202emoc.evil")  # stored before names were checked
    LabelingFactory(
        solution__problem__project=project,
        labeler=spoof,
        finish_reason="give_up",
        reason="unclear \u202eevil",
    )
    lead = UserFactory(role=Role.LEAD)
    client.force_login(lead)
    html = client.get(f"/projects/{project.pk}/stats/").content.decode()
    assert "\u202e" not in html.split("<body", 1)[1].replace(
        'title="\u202emoc.evil"', ""
    )  # only in a tooltip attribute, where no markup can go
    assert "<td><bdi>unclear [U+202E]evil</bdi></td>" in html
    assert "<bdi>[U+202E]moc.evil</bdi>" in html


@pytest.mark.django_db
def test_the_members_page_shows_invisible_and_spoofing_names_visibly(client):
    """Catches a "\\u200b" member shown as a blank row and "\\u202emoc.evil" shown as
    "live.com" on Members (names stored before names were checked)."""
    project = ProjectFactory()
    for name in ("\u200b", "\u202emoc.evil"):
        project.members.add(UserFactory(username=name))
    lead = UserFactory(role=Role.LEAD, username="lead")
    project.members.add(lead)
    client.force_login(lead)
    html = client.get(f"/projects/{project.pk}/members/").content.decode()
    assert ">\u200b</td>" not in html
    assert "<bdi>[U+200B]</bdi>" in html and "<bdi>[U+202E]moc.evil</bdi>" in html
    assert '<span class="muted"><bdi>lead</bdi> ·' in html  # the header's own name too


# `{{ x.username }}`, `{{ x.reason }}`, ... printed as element content without `|isolate`.
_RAW = re.compile(
    r">[^<>{]*\{\{ ?[\w.]*(username|reason|note|labeler|\.name|\.text|\.problem)\b(\|(?!isolate)"
    r"[\w:\"]+)* ?\}\}"
)


# Not user-written: a run's progress note (the worker's). The task page's problem text is a
# block of its own (a bidi paragraph, so nothing leaks out) that KaTeX renders in place.
_ALLOWED = ("progress_note", "state.problem.text")


def test_every_template_isolates_user_written_text():
    """Catches a template that shows a user name or user-written text without `|isolate`
    (content only: `<title>` and attributes cannot hold markup)."""
    raw = []
    for path in TEMPLATES.rglob("*.html"):
        for number, line in enumerate(path.read_text().splitlines(), 1):
            line = re.sub(r"\{% block title %\}.*?\{% endblock %\}", "", line)
            for found in _RAW.finditer(line):
                shown = found.group()
                if not any(word in shown for word in ("finish_reason", "form.", *_ALLOWED)):
                    raw.append(f"{path.relative_to(TEMPLATES)}:{number}: {shown}")
    assert not raw, "\n".join(raw)


@pytest.mark.django_db
def test_the_project_created_message_isolates_the_name(client):
    """Catches "Project <name> created" printed with the name raw (a name in another direction
    reorders the sentence), and the create form accepting "\\u202eevil project" or "\\u200b"."""
    lead = UserFactory(role=Role.LEAD)
    client.force_login(lead)
    for name in ("\u202eevil project", "\u200b", " \u200b\u2060 "):
        response = client.post("/projects/new/", {"name": name}, follow=True)
        assert "New project:" in response.content.decode()
    response = client.post("/projects/new/", {"name": "<i>Geo</i>"}, follow=True)
    assert "Project <bdi>&lt;i&gt;Geo&lt;/i&gt;</bdi> created." in response.content.decode()
