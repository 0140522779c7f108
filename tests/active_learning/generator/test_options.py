"""The generator's options: every bad field named, templates checked before anything runs."""

import pytest

from active_learning.generator.options import (
    DEFAULT_TEMPLATE,
    GeneratorOptions,
    OptionsError,
    options_from,
    template_errors,
)


def test_defaults_fill_in_the_model():
    options = options_from({}, default_model="smollm2")
    assert options.model == "smollm2"
    assert options.prompt("1+1?").endswith("Problem: 1+1?\n\nSolution:\n")
    assert options.as_params()["stop"] == ["\nProblem:"]


@pytest.mark.parametrize(
    ("template", "says"),
    [
        ("Solve it.", "must contain {problem}"),
        ("Solve {problem} with {hint}", "unknown field(s) {hint}"),
        ("Solve {problem} and \\frac{1}{2}", "unknown field(s) {1}, {2}"),
        ("Solve {problem", "write literal braces"),
        ("", "non-empty"),
    ],
)
def test_a_prompt_template_that_fails_is_named(template, says):
    """A template str.format cannot fill (LaTeX braces left single, a field other than
    {problem}, no {problem}) is refused with a message that says what to do, before any
    model is loaded."""
    errors = template_errors(template)
    assert errors and says in errors[0], errors
    with pytest.raises(OptionsError) as caught:
        options_from({"prompt_template": template})
    assert caught.value.errors[0].startswith("prompt_template:")


def test_doubled_braces_are_literal():
    assert template_errors("\\frac{{1}}{{2}} of {problem}") == []
    assert GeneratorOptions(prompt_template="{{x}} {problem}").prompt("p") == "{x} p"
    assert template_errors(DEFAULT_TEMPLATE) == []


# One bad value for each field that has a check, in the order the errors are listed.
BAD_OPTIONS = {
    "samples_per_problem": 0,
    "temperature": -1,
    "top_p": 0,
    "max_new_tokens": True,
    "seed": -1,
    "step_separator": "",
    "device": "tpu",
}


def test_every_bad_field_is_listed():
    """All errors at once, each naming its field (catches a check that stops at the first)."""
    with pytest.raises(OptionsError) as caught:
        options_from({**BAD_OPTIONS, "colour": "red"})
    assert caught.value.errors == ["colour: unknown generator option"]
    with pytest.raises(OptionsError) as caught:
        options_from(BAD_OPTIONS)
    fields = [e.split(":")[0] for e in caught.value.errors]
    assert fields == list(BAD_OPTIONS)


def test_stop_accepts_one_text_or_a_list():
    assert options_from({"stop": "END"}).stop == ("END",)
    with pytest.raises(OptionsError):
        options_from({"stop": [""]})


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"prompt_template": "Problem: {problem}\x00"}, "prompt_template: contains"),
        ({"prompt_template": "{problem} \ud83d"}, "prompt_template: contains a lone surrogate"),
        ({"step_separator": "\x0c"}, "step_separator: contains"),
        ({"stop": ["ok", "\x01END"]}, "stop[1]: contains"),
        ({"model": "a\x00b"}, "model: contains"),
        ({"device": "cuda:x"}, "device: must be"),
    ],
)
def test_texts_the_platform_cannot_store_are_refused_naming_the_field(data, field):
    """The options are recorded on the run (jsonb): a NUL from a template file made PostgreSQL
    refuse the run with a DataError naming no field (SQLite stored it), and a control character
    in a stop text can never match (parsing removes it first). Catches options that pass the
    check but break the platform's text policy, or a device no worker can use."""
    with pytest.raises(OptionsError) as caught:
        options_from(data)
    assert any(error.startswith(field) for error in caught.value.errors), caught.value.errors
