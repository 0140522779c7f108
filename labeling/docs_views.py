"""The project's documentation (docs/*.md), served as pages so that the app can link to it
(e.g. the statistics page's "definitions of these numbers"). Markdown is rendered with
markdown-it-py (CommonMark, tables), raw HTML off: the files are ours, but nothing in them can
inject markup."""

import re
from functools import lru_cache
from pathlib import Path

from django.conf import settings
from django.http import Http404
from django.shortcuts import render
from django.urls import reverse
from django.utils.safestring import mark_safe
from django.views.decorators.http import require_GET

DOCS_DIR = Path(settings.BASE_DIR) / "docs"
_NAME = re.compile(r"^[a-z0-9-]+$")
_LOCAL_LINK = re.compile(r'href="(?:\./)?([a-z0-9-]+)\.md(#[^"]*)?"')


@lru_cache(maxsize=64)
def _render(path: Path, mtime: float) -> tuple[str, str]:
    from markdown_it import MarkdownIt

    text = path.read_text(encoding="utf-8")
    html = MarkdownIt("commonmark", {"html": False}).enable("table").render(text)
    # links between docs pages stay inside the app
    html = _LOCAL_LINK.sub(
        lambda m: f'href="{reverse("docs-page", args=[m.group(1)])}{m.group(2) or ""}"', html
    )
    title = next((line[2:].strip() for line in text.splitlines() if line.startswith("# ")), "")
    return title or path.stem, html


@require_GET
def docs_page(request, name: str):
    path = DOCS_DIR / f"{name}.md"
    if not _NAME.match(name) or not path.is_file():
        raise Http404("No such documentation page.")
    title, html = _render(path, path.stat().st_mtime)
    pages = sorted(p.stem for p in DOCS_DIR.glob("*.md"))
    return render(
        request,
        "docs/page.html",
        {"title": title, "body": mark_safe(html), "pages": pages, "name": name},
    )
