from django import template

from labeling import permissions

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
