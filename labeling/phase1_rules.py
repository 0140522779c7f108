"""How a PRM800K phase-1 labeling is made, step by step (no Django).

Phase 1 of PRM800K (Lightman et al. 2023, section 2.3; the layout in
../shared/PRM800K-FORMAT.md): there is no pre-generated solution. At each position the labeler
sees several proposed next steps (the *alternatives*), rates every one -1 / 0 / +1, then either
continues with one rated 0 or +1 (`chosen_completion`) or writes their own step
(`human_completion`, stored as in the release: `{"text", "rating": null, "source": "human",
"flagged": false}`). The next position's alternatives follow the path taken. The labeling ends
when the step continued with carries the final answer (`# Answer`), or anywhere with give up
or bad problem (and a reason).

The client sends its work as *positions*, one per step position, in order:
`{"ratings": [-1|0|1|null, ...], "flagged": [bool, ...], "chosen": int|null, "human": str|null,
"shown": int}` (`ratings[j]` rates the j-th alternative shown at that position; `shown`, how
many the page showed, optional). The alternatives' texts are never taken from the client:
`build_label_steps` asks `alternatives_at(position, prefix, shown)` for them, so a labeling
records exactly what the server proposed. `shown: 0` says the page showed none (it was waiting
for the generator): an own step written then is not refused because proposals arrived between
the page's last look and the save.
"""

from collections.abc import Callable
from dataclasses import dataclass

from labeling.prm800k import ANSWER_MARKER, RATINGS, answer_of, trajectory
from labeling.rating_rules import DraftError, check_ending_reason, check_known
from labeling.text_policy import TextError, check_text, is_blank

MAX_POSITIONS = 200  # step positions in one phase-1 labeling (PRM800K's longest has ~60)
MAX_OWN_STEP_LENGTH = 5000  # characters of a step the annotator writes
# what one position of a phase-1 draft's `steps` may hold (any other key: UnknownFieldError)
POSITION_FIELDS = frozenset({"ratings", "flagged", "chosen", "human", "shown"})


@dataclass(frozen=True)
class Position:
    ratings: tuple[int | None, ...]
    flagged: tuple[bool, ...]
    chosen: int | None
    human: str | None
    shown: int | None = None

    @property
    def continued(self) -> bool:
        return self.chosen is not None or self.human is not None


def parse_positions(raw) -> list[Position]:
    """The client's positions, shape-checked; DraftError names the first bad field
    (`steps[2].ratings[1]: ...`; UnknownFieldError for a key not in POSITION_FIELDS). Whether
    they fit the alternatives shown is checked by `build_label_steps`."""
    if not isinstance(raw, list):
        raise DraftError("steps: must be a list")
    if len(raw) > MAX_POSITIONS:
        raise DraftError(f"steps: {len(raw)} positions; at most {MAX_POSITIONS}")
    positions = []
    for i, item in enumerate(raw):
        where = f"steps[{i}]"
        if not isinstance(item, dict):
            raise DraftError(f"{where}: must be an object")
        if not item.keys() <= POSITION_FIELDS:  # the rule's common case, inline: per step
            check_known(item, POSITION_FIELDS, i)
        ratings = item.get("ratings", [])
        if not isinstance(ratings, list):
            raise DraftError(f"{where}.ratings: must be a list")
        for j, rating in enumerate(ratings):
            # an int exactly: JSON's 1.0 equals 1 but would be stored as a float (the release's
            # ratings are integers, and the submit could not write it)
            if rating is not None and (type(rating) is not int or rating not in RATINGS):
                raise DraftError(f"{where}.ratings[{j}]: must be -1, 0, 1 or null")
        flagged = item.get("flagged", [])
        if not isinstance(flagged, list) or not all(isinstance(f, bool) for f in flagged):
            raise DraftError(f"{where}.flagged: must be a list of true or false")
        chosen = item.get("chosen")
        if chosen is not None and (isinstance(chosen, bool) or not isinstance(chosen, int)):
            raise DraftError(f"{where}.chosen: must be the index of an alternative or null")
        human = item.get("human")
        if human is not None:
            if not isinstance(human, str):
                raise DraftError(f"{where}.human: must be a string or null")
            if is_blank(human):
                raise DraftError(f"{where}.human: your own step is empty")
            if ANSWER_MARKER in human and not answer_of([human]):
                raise DraftError(
                    f"{where}.human: write the final answer after '# Answer' and a blank line"
                )
            try:
                check_text(human, f"{where}.human", MAX_OWN_STEP_LENGTH)
            except TextError as exc:
                raise DraftError(str(exc)) from None
        if chosen is not None and human is not None:
            raise DraftError(f"{where}: continue with an alternative or your own step, not both")
        shown = item.get("shown")
        if shown is not None and (isinstance(shown, bool) or not isinstance(shown, int)):
            raise DraftError(f"{where}.shown: must be a whole number or null")
        positions.append(Position(tuple(ratings), tuple(flagged), chosen, human, shown))
    return positions


AlternativesAt = Callable[[int, list[str], int | None], list[str]]


def build_label_steps(positions: list[Position], alternatives_at: AlternativesAt) -> list[dict]:
    """The PRM800K `label.steps` of `positions`. `alternatives_at(i, prefix, shown)` gives the
    texts proposed at position i after the step texts `prefix` (the path taken so far; [] when
    none are ready, or when the page showed none (`shown` 0) and the draft holds none there).
    DraftError when a position rates more alternatives than were shown, continues before every
    alternative is rated or with one rated Negative (or unrated), is followed by another
    without being continued, or follows the final answer. A last position that shows nothing
    and carries nothing is dropped."""
    steps: list[dict] = []
    prefix: list[str] = []
    for i, position in enumerate(positions):
        where = f"steps[{i}]"
        if steps and answer_of(prefix[-1:]) is not None:
            raise DraftError(f"{where}: the labeling ended with the final answer at step {i}")
        texts = alternatives_at(i, prefix, position.shown)
        n = len(texts)
        if len(position.ratings) > n or len(position.flagged) > n:
            raise DraftError(f"{where}.ratings: {n} alternatives are shown at this step")
        ratings = list(position.ratings) + [None] * (n - len(position.ratings))
        flagged = list(position.flagged) + [False] * (n - len(position.flagged))
        last = i == len(positions) - 1
        if position.continued:
            unrated = sum(r is None for r in ratings)
            if unrated:
                raise DraftError(
                    f"{where}: rate every alternative before continuing ({unrated} unrated)"
                )
        elif not last:
            raise DraftError(f"{where}: continue with an alternative or your own step first")
        elif n == 0:
            break  # nothing shown, nothing said
        if position.chosen is not None:
            if not 0 <= position.chosen < n:
                raise DraftError(f"{where}.chosen: {position.chosen} is not one of {n}")
            if ratings[position.chosen] not in (0, 1):
                raise DraftError(
                    f"{where}.chosen: continue with an alternative rated Neutral or Positive"
                )
        human = None
        if position.human is not None:
            human = {"text": position.human, "rating": None, "source": "human", "flagged": False}
        steps.append(
            {
                "completions": [
                    {"text": text, "rating": r, "flagged": f}
                    for text, r, f in zip(texts, ratings, flagged, strict=True)
                ],
                "human_completion": human,
                "chosen_completion": position.chosen,
            }
        )
        if position.continued:
            prefix.append(texts[position.chosen] if human is None else position.human)
    return steps


def positions_of(label_steps: list[dict]) -> list[dict]:
    """The client's form of stored `label.steps` (the inverse of `build_label_steps`)."""
    out = []
    for step in label_steps:
        completions = step.get("completions") or []
        human = step.get("human_completion")
        out.append(
            {
                "ratings": [c.get("rating") for c in completions],
                "flagged": [bool(c.get("flagged")) for c in completions],
                "chosen": step.get("chosen_completion"),
                "human": human.get("text") if human else None,
                "shown": len(completions),
            }
        )
    return out


def is_continued(step: dict) -> bool:
    human = step.get("human_completion")
    return step.get("chosen_completion") is not None or (
        human is not None and human.get("text") is not None
    )


def finish_reason_of(label_steps: list[dict]) -> str | None:
    """`solution` when the last step continued with carries the final answer, else None."""
    if not label_steps or not is_continued(label_steps[-1]):
        return None
    return "solution" if answer_of(trajectory(label_steps)[-1:]) is not None else None


def check_submit(label_steps: list[dict], finish_reason: str, reason: str) -> str:
    """Raise DraftError unless `finish_reason` fits a phase-1 labeling; returns the cleaned
    reason. `solution` needs the final answer reached; `give_up` and `bad_problem` a reason;
    `found_error` is phase 2's ending (a phase-1 labeler rates and moves on)."""
    ending = check_ending_reason(finish_reason, reason)
    if ending is not None:
        return ending
    if finish_reason == "solution":
        if finish_reason_of(label_steps) != "solution":
            raise DraftError(
                "finish_reason: solution needs a step with the final answer (# Answer) "
                "to continue with"
            )
        return ""
    raise DraftError("finish_reason: a phase-1 labeling ends with solution, give_up or bad_problem")
