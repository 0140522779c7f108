"""docs/architecture.md sends a newcomer one hop from a URL or command to a module and a name
in it; this keeps those hops true when code moves (it would catch a module renamed or a
function moved without the map following)."""

import ast
import re

from tests.conftest import ROOT

DOC = ROOT / "docs" / "architecture.md"
# `path/to/module.py` followed (after an optional space) by `name` (or `name`, `other`)
MODULE_AND_NAMES = re.compile(
    r"`((?:labeling|active_learning|training_recipe|config|static)/[\w/.-]+)`((?:[ ,/]*`\w+`)*)"
)


def _names_defined(path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Assign):
            names.update(t.id for t in node.targets if isinstance(t, ast.Name))
    return names


def test_every_module_and_name_the_architecture_page_points_to_exists():
    text = DOC.read_text(encoding="utf-8")
    pairs = MODULE_AND_NAMES.findall(text)
    assert len(pairs) > 40  # the tables are there
    missing = []
    for module, names in pairs:
        path = ROOT / module
        if not path.exists():
            missing.append(module)
            continue
        if path.suffix != ".py":
            continue
        defined = _names_defined(path)
        missing += [
            f"{module}: {name}" for name in re.findall(r"`(\w+)`", names) if name not in defined
        ]
    assert missing == []


def _routes(patterns, prefix=""):
    from django.urls import URLResolver

    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            yield from _routes(pattern.url_patterns, prefix + str(pattern.pattern))
        else:
            yield prefix + str(pattern.pattern), pattern.callback


def test_every_url_and_command_of_ours_is_one_hop_from_the_architecture_page():
    """Would catch a URL or a command added (the generator's pages, run stop, phase 1, tokens,
    `add_user`, `phase1_prepare`, ...) without the page naming the view or command that serves
    it: the issue's bar is "any behaviour in one hop from its URL or command"."""
    from django.core.management import get_commands
    from django.urls import get_resolver

    text = DOC.read_text(encoding="utf-8")
    missing = []
    for route, callback in _routes(get_resolver().url_patterns):
        view = getattr(callback, "view_class", None) or getattr(callback, "cls", None) or callback
        ours = view.__module__.split(".")[0] in ("labeling", "active_learning", "config")
        if ours and f"`{view.__name__}`" not in text:
            missing.append(f"/{route} ({view.__module__}.{view.__name__})")
    for name, app in get_commands().items():
        if app in ("labeling", "active_learning") and not re.search(
            rf"`manage\.py {name}`|`manage\.py [\w ,`]*\b{name}\b", text
        ):
            missing.append(f"manage.py {name}")
    assert sorted(set(missing)) == []


def test_every_hook_has_a_subscriber_and_its_row_names_it():
    """Catches a hook that labeling fires with nobody listening (issue 18: phase-1 requests
    waited forever) or a hooks table that still says "none subscribed"."""
    from labeling import hooks

    text = DOC.read_text(encoding="utf-8")
    for hook in (value for value in vars(hooks).values() if isinstance(value, hooks.Hook)):
        assert hook.subscribers, f"nothing subscribes to {hook.name}"
        rows = [line for line in text.splitlines() if line.startswith(f"| `{hook.name}(")]
        assert len(rows) == 1, hook.name
        assert "none subscribed" not in rows[0]
