from django import template
from django.utils.html import conditional_escape
from django.utils.safestring import mark_safe

from labeling import permissions
from labeling.text_policy import shown_safely

register = template.Library()


@register.filter
def get_item(mapping, key):
    """`mapping|get_item:key` for dictionaries keyed by values known only at render time."""
    return mapping.get(key) if hasattr(mapping, "get") else None


@register.filter
def is_lead(user) -> bool:
    """`user|is_lead`: labeling.permissions.is_lead, so pages show lead links by the same rule."""
    return permissions.is_lead(user)


@register.filter
def is_researcher(user) -> bool:
    """`user|is_researcher`: leads and researchers (labeling.permissions.is_researcher)."""
    return permissions.is_researcher(user)


@register.filter(needs_autoescape=True)
def isolate(value, autoescape=True) -> str:
    """`{{ text|isolate }}`: a user-written text or a user name, escaped and wrapped in `<bdi>`
    so that its direction (Arabic, Hebrew, a stray bidi control) cannot reorder the page text
    around it, with bidi controls and invisible-only names made visible (`shown_safely`).
    The one way pages show what users wrote; not for `<title>` or attributes (no markup)."""
    text = shown_safely("" if value is None else str(value))
    return mark_safe(f"<bdi>{conditional_escape(text) if autoescape else text}</bdi>")
