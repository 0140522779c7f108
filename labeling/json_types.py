"""The one rule for the JSON types a write API takes (no Django): an integer is a JSON integer
(not "2", 2.0 or true, which Python counts as 1), a number a finite JSON number (not a string,
a boolean, NaN or an infinity), a boolean JSON true or false (not "true", 1, 0, "yes" or null),
a string a JSON string (not 5 or 2.5, which DRF's CharField stores as "5" and "2.5").

Used by the serializer fields of labeling/input_rules.py (`JsonIntegerField`,
`JsonNumberField`, `JsonBooleanField`, `JsonStringField`: every integer, share, boolean and
string of the write APIs), by the loop settings' rule table
(active_learning/loop/settings_rules.py: the form, the API and run_params) and, as
`type(value) is bool` inline, by the step rules of the annotator API's hot path
(labeling/rating_rules.py, labeling/phase1_rules.py).
"""

import math


def is_json_integer(value) -> bool:
    """An int and not a bool (a decoded JSON integer)."""
    return type(value) is int


def is_json_number(value) -> bool:
    """A finite int or float, not a bool (a decoded JSON number; NaN and infinities are not)."""
    return type(value) in (int, float) and math.isfinite(value)


def is_json_bool(value) -> bool:
    """True or False exactly (a decoded JSON boolean)."""
    return type(value) is bool


def is_json_string(value) -> bool:
    """A str (a decoded JSON string)."""
    return type(value) is str


def json_kind(value) -> str:
    """What a decoded JSON value is, in the words of an error message ("a string", "an
    integer", "null", ...)."""
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, float):
        return "a number with a fraction or exponent"
    if isinstance(value, int):
        return "an integer"
    if value is None:
        return "null"
    return "a list" if isinstance(value, list) else "an object"
