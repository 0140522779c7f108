"""Projects, their settings and members, managed by leads."""

import secrets

from django.db import IntegrityError, transaction

from labeling.errors import ApplicationError
from labeling.json_types import is_json_bool, is_json_integer, is_json_number
from labeling.models import Membership, Project, Role, User
from labeling.services.quality import generation_items_recount
from labeling.text_policy import TextError, check_text, is_blank

MAX_GUIDELINES_LENGTH = 20_000  # characters; a page or two of rules, not a manual

EDITABLE = (
    "overlap",
    "lease_minutes",
    "qc_rate",
    "screening_pass_mark",
    "qc_pause_threshold",
    "qc_pause_min_questions",
    "phase1_mode",
    "phase1_alternatives",
    "hints_enabled",
    "hints_unhinted_share",
    "disagreement_budget",
    "disagreement_k",
    "disagreement_confidence",
)
MAX_PHASE1_ALTERNATIVES = 16  # proposals at one step (PRM800K showed up to 7); the model's bound
NAME_MAX = Project._meta.get_field("name").max_length
MAX_DESCRIPTION_LENGTH = 20_000  # characters, as the guidelines


def _policy_text(text: str, field: str, max_chars: int, *, required: bool = False) -> str:
    """`text` stripped, checked against the text policy (labeling/text_policy.py) and
    `max_chars`; `required`: refused when blank (whitespace or invisible characters only, e.g.
    "\u200b"). ApplicationError "field: ..." otherwise."""
    text = text.strip().replace("\r\n", "\n")
    if required and is_blank(text):
        raise ApplicationError(f"{field}: a project needs a name (visible characters)")
    try:
        check_text(text, field, max_chars)
    except TextError as exc:
        raise ApplicationError(str(exc)) from None
    return text


def project_texts_check(changes: dict) -> dict:
    """`changes` with its "name" and "description" (where present) cleaned by the text policy:
    a name must be visible and at most 200 characters, a description at most 20,000. The one
    check of every way of writing them (create, settings form, API). ApplicationError."""
    cleaned = dict(changes)
    if "name" in cleaned:
        cleaned["name"] = _policy_text(cleaned["name"], "name", NAME_MAX, required=True)
    if "description" in cleaned:
        cleaned["description"] = _policy_text(
            cleaned["description"], "description", MAX_DESCRIPTION_LENGTH
        )
    return cleaned


def project_update(*, project: Project, **changes) -> Project:
    """Change settings (and the name or description, under the text policy:
    `project_texts_check`); a new overlap reopens or closes queue items at once."""
    unknown = set(changes) - set(EDITABLE) - {"name", "description"}
    if unknown:
        raise ApplicationError(f"Not a project setting: {', '.join(sorted(unknown))}")
    problems = []
    overlap = changes.get("overlap", 1)
    if not (is_json_integer(overlap) and overlap >= 1):
        problems.append("overlap: must be a whole number of at least 1")
    if "lease_minutes" in changes and not (
        is_json_integer(changes["lease_minutes"]) and 1 <= changes["lease_minutes"] <= 24 * 60
    ):
        problems.append("lease_minutes: must be between 1 and 1440")
    for share in ("qc_rate", "screening_pass_mark", "qc_pause_threshold", "hints_unhinted_share"):
        value = changes.get(share)
        if share in changes and value is None and share == "qc_pause_threshold":
            continue
        if share in changes and not (is_json_number(value) and 0 <= value <= 1):
            problems.append(f"{share}: must be a share between 0 and 1")
    for flag in ("phase1_mode", "hints_enabled"):
        if flag in changes and not is_json_bool(changes[flag]):
            problems.append(f"{flag}: must be true or false")
    k = changes.get("phase1_alternatives", 1)
    if not (is_json_integer(k) and 1 <= k <= MAX_PHASE1_ALTERNATIVES):
        problems.append(f"phase1_alternatives: must be between 1 and {MAX_PHASE1_ALTERNATIVES}")
    for count in ("disagreement_budget", "disagreement_k"):
        value = changes.get(count, 0)
        if not (is_json_integer(value) and 0 <= value <= 10_000):
            problems.append(f"{count}: must be a whole number between 0 and 10000")
    confidence = changes.get("disagreement_confidence", 0.9)
    if not (is_json_number(confidence) and 0 < confidence <= 1):
        problems.append("disagreement_confidence: must be above 0 and at most 1")
    if problems:
        raise ApplicationError("Invalid project settings.", details=problems)
    changes = project_texts_check(changes)
    if "name" in changes and (
        Project.objects.filter(name=changes["name"]).exclude(pk=project.pk).exists()
    ):
        raise ApplicationError(f"name: a project named {changes['name']!r} already exists")
    with transaction.atomic():
        overlap_changed = "overlap" in changes and changes["overlap"] != project.overlap
        for key, value in changes.items():
            setattr(project, key, value)
        project.save()
        if overlap_changed:
            generation_items_recount(project)
    return project


def membership_resume(*, membership: Membership) -> None:
    membership.paused = False
    membership.save(update_fields=["paused", "updated_at"])


def project_create(*, name: str, description: str = "", created_by: User) -> Project:
    """A new, empty project; its creator becomes a member. ApplicationError when the name is
    blank (invisible characters only), too long, taken, or either text breaks the text policy
    (`project_texts_check`)."""
    texts = project_texts_check({"name": name, "description": description})
    name = texts["name"]
    try:
        with transaction.atomic():
            project = Project.objects.create(name=name, description=texts["description"])
            Membership.objects.create(project=project, user=created_by)
    except IntegrityError:
        raise ApplicationError(f"name: a project named {name!r} already exists") from None
    return project


def project_guidelines_set(*, project: Project, guidelines: str) -> Project:
    """Replace the guidelines annotators see on the task page (plain text, line breaks kept).
    ApplicationError "guidelines: ..." past 20,000 characters or against the text policy (a
    bidi override would reorder what every annotator reads)."""
    guidelines = _policy_text(guidelines, "guidelines", MAX_GUIDELINES_LENGTH)
    project.guidelines = guidelines
    project.save(update_fields=["guidelines", "updated_at"])
    return project


def membership_add(*, project: Project, username: str, role: str) -> tuple[Membership, str | None]:
    """Add a person to the project. An existing user keeps their role (ApplicationError when it
    is not `role`, so a lead never grants a role by mistake); a new user name creates an account
    with `role` and a random password, returned once so the lead can pass it on (an invitation).
    Returns (membership, password or None)."""
    username = username.strip()
    if not username:
        raise ApplicationError("username: needed")
    if role not in Role.values:
        raise ApplicationError(f"role: must be one of {', '.join(Role.values)}")
    password = None
    with transaction.atomic():
        user = User.objects.filter(username=username).first()
        if user is None:
            from labeling.services.users import user_create

            password = secrets.token_urlsafe(9)
            user, _ = user_create(username=username, role=role, password=password)
        elif user.role != role:
            raise ApplicationError(
                f"role: {username} is already registered as {user.get_role_display().lower()}; "
                "add them with that role (a role belongs to the person, not the project)"
            )
        membership, created = Membership.objects.get_or_create(project=project, user=user)
        if not created:
            raise ApplicationError(f"username: {username} is already a member of {project.name}")
    return membership, password


def membership_remove(*, membership: Membership) -> None:
    """Take a person off the project: they get no new tasks there. Their labelings stay (a
    task they hold returns to the queue when its lease runs out)."""
    membership.delete()
