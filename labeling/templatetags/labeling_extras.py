from django import template

register = template.Library()


@register.filter
def get_item(mapping, key):
    """`mapping|get_item:key` for dictionaries keyed by values known only at render time."""
    return mapping.get(key) if hasattr(mapping, "get") else None
