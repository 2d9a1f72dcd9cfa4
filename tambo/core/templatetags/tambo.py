"""Small template helpers shared by every app."""

from typing import Any

from django import template

register = template.Library()


@register.filter
def get_item(mapping: Any, key: str) -> Any:
    """``{{ dict|get_item:name }}``: look up a key that is itself a variable."""
    if not hasattr(mapping, "get"):  # an absent context variable renders as ""
        return None
    return mapping.get(key)
