"""Finding the final answer in solution text (no Django): a PRM800K `# Answer` block or the last
`\\boxed{...}` (MATH's convention)."""

from labeling.prm800k import ANSWER_MARKER

_BOXED = ("\\boxed", "\\fbox")


def last_boxed(text: str) -> str | None:
    """Contents of the last `\\boxed{...}` (or `\\fbox{...}`) in `text`, braces balanced (None
    when unbalanced); `\\boxed 5` without braces gives the text up to the next `$`."""
    start, marker = max((text.rfind(marker), marker) for marker in _BOXED)
    if start < 0:
        return None
    after = start + len(marker)
    rest = text[after:]
    body = rest.lstrip()
    if not body.startswith("{"):
        # `\boxed 5` (no braces): as MATH's reference code reads it (hendrycks/math,
        # math_equivalence's last_boxed_only_string), the text after the space up to a `$`
        if not rest.startswith(" "):
            return None
        return rest[1:].split("$")[0].strip() or None
    brace = after + len(rest) - len(body)
    depth = 0
    for i in range(brace, len(text)):
        if text[i] == "{":
            depth += 1
        elif text[i] == "}":
            depth -= 1
            if depth == 0:
                return text[brace + 1 : i]
    return None  # unbalanced


def final_answer(steps: list[str]) -> str | None:
    """The answer a solution ends with: its `# Answer` block, else its last boxed expression."""
    if not steps:
        return None
    last = steps[-1]
    at = last.rfind(ANSWER_MARKER)
    if at >= 0:
        return last[at + len(ANSWER_MARKER) :].strip()
    for step in reversed(steps):
        boxed = last_boxed(step)
        if boxed is not None:
            return boxed.strip()
    return None
