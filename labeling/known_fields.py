"""The one rule for fields a request may carry (no Django): a key the endpoint does not know is
refused, never dropped, so a misspelt field (`ratng`, `overlapp`) is an error that names it
instead of a silently lost rating or option.

Used at every depth by the same function: the top level of a request by
`labeling.input_rules.KnownFieldsSerializer` (DRF's 400 `{name: ["Unknown field."]}`) and by the
annotator API's fast path (labeling/api_fast.py, which leaves such a request to that serializer,
so both paths answer the same body); the objects inside `steps` by `labeling.rating_rules
.parse_marks` and `labeling.phase1_rules.parse_positions` (`steps[2].ratin: unknown field`,
the 400 that names every other broken step field).
"""

UNKNOWN_FIELD = "unknown field"


def unknown_fields(data, known) -> list[str]:
    """The keys of the mapping `data` not in `known` (a set or frozenset of names), sorted;
    [] when every key is known (one set comparison: the hot path's common case)."""
    keys = data.keys()
    if keys <= known:
        return []
    return sorted(set(keys) - set(known), key=str)


def unknown_field_message(where: str, name) -> str:
    """The error naming an unknown field `name` of the object at `where` (`steps[2]`):
    `steps[2].ratin: unknown field`; a top-level field (`where` empty) is `ratng: unknown
    field`."""
    return f"{where}.{name}: {UNKNOWN_FIELD}" if where else f"{name}: {UNKNOWN_FIELD}"
