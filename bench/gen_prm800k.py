#!/usr/bin/env python
"""Synthetic PRM800K phase-2 label records, for benchmarks of import and export.

    python bench/gen_prm800k.py --labelings 100000 --out bench/out/prm800k-100k.jsonl --seed 1

Each output line is one labeling written by `json.dumps` with default settings, keys in release
order (see ../shared/PRM800K-FORMAT.md and ../shared/data/prm800k_samples.jsonl), shaped like the
release's phase 2:

- a pool of problems (one per 20 labelings, at least 20), each reused by many solutions;
  problem 300-600 chars (mean ~390) with LaTeX, ground_truth_solution 500-1500 (mean ~790);
- each solution has 10-30 pre-generated steps (mean ~14) of 100-400 chars (mean ~125, skewed
  short as in the release), the last ending with `# Answer\n\n<answer>`; a verifier score
  float (1e-9.5 .. 0.9); a generation 0-10;
- label.steps cover the steps up to the first -1 (`found_error`, ~76% of records, error step
  early, as in the release; it holds 2-5 completions: completion 0 rated -1 and flagged null,
  alternatives rated 1/0/-1 and flagged false, chosen_completion null), or all steps
  (`solution`, ~20%); a few `give_up` (last step unrated) and `bad_problem`;
- ratings mostly 1, ~20% 0; 300 labeler UUIDs; timestamps with microseconds over 5 months of
  2022; total_time in ms;
- ~3% quality-control records (4 gold solutions per generation, each served to many labelers);
  ~10% of the other solutions labeled by 2-3 labelers (same problem and same
  pre_generated_steps, different labeler, timestamp and label; the extra labelings follow
  within 200 lines).

Output is deterministic for a given --seed and --labelings, ASCII only (non-ASCII characters are
written as \\uXXXX escapes, as json.dumps does). Lines average about 5.2 KB, so 100k labelings
is about 0.52 GB; it streams in blocks of 1000 lines and writes 100k lines in about 10 s.
"""

import argparse
import heapq
import json
import random
import sys
import time
import uuid
from datetime import datetime, timedelta

LABELER_POOL = 300
GENERATIONS = range(0, 11)
QC_SHARE = 0.03  # share of records that are quality-control questions
QC_SOLUTIONS_PER_GENERATION = 4
MULTI_LABELED_SHARE = 0.10  # share of (non-QC) solutions labeled by 2-3 labelers
FINISH_WEIGHTS = (
    ("found_error", 0.76),
    ("solution", 0.20),
    ("give_up", 0.025),
    ("bad_problem", 0.015),
)
START = datetime(2022, 8, 1)
SPAN_SECONDS = 150 * 24 * 3600

_WORD_TEXT = (
    "we the a of to and is that this so then let find compute since which gives know can use "
    "substitute simplify notice value each both sides equation expression term factor root "
    "integer number sum product difference ratio sequence function graph point line circle "
    "triangle angle area length side radius center polynomial coefficient degree remainder "
    "divisible prime multiple digit base probability case count ways choose arrange total "
    "positive negative real complex solution answer check recall formula identity parity odd "
    "even maximum minimum inequality bound equal greater less than must only one two three "
    "first second last next now therefore thus hence means get obtain write rewrite expand"
)
WORDS = _WORD_TEXT.split()
VARS = ("x", "y", "z", "a", "b", "c", "n", "k", "m", "p", "q", "r", "t")
# A little non-ASCII, as in the release, so that export must write \\uXXXX escapes.
UNICODE_BITS = ("\u2019", "\u2264", "\u2265", "\u03c0", "\u00b0", "\u2212", "\u00d7")
ALT_OPENERS = (
    "Actually, ",
    "Wait, ",
    "Instead, ",
    "Let me try again: ",
    "Alternatively, ",
    "Hmm, ",
    "",
)


def _math(rng: random.Random) -> str:
    v, w = rng.choice(VARS), rng.choice(VARS)
    a, b, c = rng.randint(2, 99), rng.randint(1, 60), rng.randint(1, 999)
    kind = rng.randrange(12)
    if kind == 0:
        return f"${v}^2 + {a}{v} - {b} = 0$"
    if kind == 1:
        return f"$\\frac{{{a}}}{{{b}}}$"
    if kind == 2:
        return f"$\\sqrt{{{c}}} = {a}\\sqrt{{{b}}}$"
    if kind == 3:
        return f"\\[\\sum_{{{v}=1}}^{{{a}}} {v}^2 = {c}\\]"
    if kind == 4:
        return f"${v} \\cdot {w} = {c}$"
    if kind == 5:
        return f"$\\binom{{{a}}}{{{b % 9 + 1}}}$"
    if kind == 6:
        return f"$\\angle ABC = {a}^\\circ$"
    if kind == 7:
        return f"$f({v}) = {a}{v}^3 - {b}{v} + {c}$"
    if kind == 8:
        return f"${c} \\equiv {b} \\pmod{{{a}}}$"
    if kind == 9:
        return f"$\\left(\\frac{{{v}}}{{{a}}}\\right)^{{{b % 5 + 2}}}$"
    if kind == 10:
        return f"$\\pi r^2 = {c}\\pi$"
    return f"${a} + {b} = {a + b}$"


def _sentence(rng: random.Random) -> str:
    words = rng.choices(WORDS, k=rng.randint(5, 14))
    words[0] = words[0].capitalize()
    for _ in range(rng.choice((0, 1, 1, 2))):
        words.insert(rng.randrange(1, len(words) + 1), _math(rng))
    if rng.random() < 0.03:
        words.insert(rng.randrange(1, len(words) + 1), rng.choice(UNICODE_BITS))
    return " ".join(words) + rng.choice((".", ".", ".", ":", "?"))


class Text:
    """Text of a target length built from a pool of pre-made sentences (fast and varied)."""

    def __init__(self, rng: random.Random, pool_size: int = 6000):
        self.rng = rng
        self.pool = [_sentence(rng) for _ in range(pool_size)]

    def make(self, low: int, high: int, mean: int) -> str:
        """About `mean` chars (exponential above `low`, capped at `high`), cut at a word end."""
        rng = self.rng
        target = min(high, low + int(rng.expovariate(1 / (mean - low))))
        parts = []
        size = 0
        pool = self.pool
        while size < target:
            s = pool[rng.randrange(len(pool))]
            parts.append(s)
            size += len(s) + 1
        text = " ".join(parts)
        if len(text) > target:
            cut = text.rfind(" ", low, target + 1)
            text = text[: cut if cut > 0 else target]
        if rng.random() < 0.15:
            at = text.find(". ")
            if at > 0:
                text = text[: at + 1] + "\n\n" + text[at + 2 :]
        return text


def _answer(rng: random.Random) -> str:
    kind = rng.randrange(6)
    if kind <= 2:
        return str(rng.randint(0, 9999))
    if kind == 3:
        return f"\\frac{{{rng.randint(1, 50)}}}{{{rng.randint(2, 99)}}}"
    if kind == 4:
        return f"{rng.randint(2, 30)}\\sqrt{{{rng.choice((2, 3, 5, 6, 7, 10))}}}"
    return f"({rng.randint(-9, 9)}, {rng.randint(-9, 9)})"


class Generator:
    def __init__(self, labelings: int, seed: int):
        self.n = labelings
        self.rng = rng = random.Random(seed)
        self.text = Text(rng)
        self.labelers = [
            str(uuid.UUID(int=rng.getrandbits(128), version=4)) for _ in range(LABELER_POOL)
        ]
        self.n_problems = max(20, labelings // 20)
        self.problems: dict[int, dict] = {}  # made lazily, kept (small: ~2 KB each)
        self.qc: dict[int, list[dict]] = {}
        self.finish_reasons = [r for r, _ in FINISH_WEIGHTS]
        self.finish_weights = [w for _, w in FINISH_WEIGHTS]

    # --- questions ----------------------------------------------------------------------------

    def problem(self, index: int) -> dict:
        p = self.problems.get(index)
        if p is None:
            t = self.text
            answer = _answer(self.rng)
            p = {
                "problem": t.make(300, 600, 400),
                "ground_truth_solution": t.make(500, 1500, 760)
                + f" The answer is $\\boxed{{{answer}}}$.",
                "ground_truth_answer": answer,
            }
            self.problems[index] = p
        return p

    def question(self) -> dict:
        rng = self.rng
        p = self.problem(rng.randrange(self.n_problems))
        n_steps = min(30, 10 + int(rng.expovariate(1 / 5)))
        steps = [self.text.make(100, 400, 125) for _ in range(n_steps - 1)]
        answer = p["ground_truth_answer"] if rng.random() < 0.35 else _answer(rng)
        if rng.random() < 0.6:
            last = f"# Answer\n\n{answer}"
        else:
            last = self.text.make(60, 250, 100) + f"\n\n# Answer\n\n{answer}"
        steps.append(last)
        return {
            "problem": p["problem"],
            "ground_truth_solution": p["ground_truth_solution"],
            "ground_truth_answer": p["ground_truth_answer"],
            "pre_generated_steps": steps,
            "pre_generated_answer": answer,
            "pre_generated_verifier_score": 10 ** rng.uniform(-9.5, -0.05),
        }

    def qc_question(self, generation: int) -> dict:
        pool = self.qc.get(generation)
        if pool is None:
            pool = self.qc[generation] = [
                self.question() for _ in range(QC_SOLUTIONS_PER_GENERATION)
            ]
        return self.rng.choice(pool)

    # --- labels -------------------------------------------------------------------------------

    def _rating(self) -> int:
        return 1 if self.rng.random() < 0.8 else 0

    def label(self, steps: list[str]) -> dict:
        rng = self.rng
        finish = rng.choices(self.finish_reasons, self.finish_weights)[0]
        n = len(steps)
        out = []
        if finish == "found_error":
            error_at = min(n - 1, int(rng.expovariate(1 / (0.25 * n))))
            for i in range(error_at):
                out.append(_step([_c(steps[i], self._rating(), None)], 0))
            completions = [_c(steps[error_at], -1, None)]
            for _ in range(rng.randint(1, 4)):  # 2-5 completions in all
                alt = rng.choice(ALT_OPENERS) + self.text.make(70, 300, 130)
                completions.append(_c(alt, rng.choice((1, 1, 1, 0, -1)), False))
            out.append(_step(completions, None))
        elif finish == "solution":
            for i in range(n - 1):
                out.append(_step([_c(steps[i], self._rating(), None)], 0))
            out.append(_step([_c(steps[-1], 1, None)], 0))
        elif finish == "give_up":
            stop = rng.randrange(n)
            for i in range(stop):
                out.append(_step([_c(steps[i], self._rating(), None)], 0))
            out.append(_step([_c(steps[stop], None, None)], None))  # the unrated last step
        else:  # bad_problem: stopped at once, or after a step or two
            for i in range(rng.choice((0, 0, 1, 2))):
                out.append(_step([_c(steps[i], self._rating(), None)], 0))
        return {
            "steps": out,
            "total_time": int(rng.lognormvariate(12.8, 0.7)),  # ~360 s median, in ms
            "finish_reason": finish,
        }

    def record(self, question: dict, generation: int, qc: bool, labeler: str) -> str:
        rng = self.rng
        ts = START + timedelta(seconds=rng.randrange(SPAN_SECONDS))
        ts = ts.replace(microsecond=rng.randint(1, 999999))
        return json.dumps(
            {
                "labeler": labeler,
                "timestamp": ts.isoformat(),
                "generation": generation,
                "is_quality_control_question": qc,
                "is_initial_screening_question": False,
                "question": question,
                "label": self.label(question["pre_generated_steps"]),
            }
        )

    def lines(self):
        """Yield `self.n` lines; extra labelings of a solution come a little later (a heap)."""
        rng = self.rng
        pending: list[tuple[int, int, str]] = []  # (emit at line, tiebreak, line)
        made = 0
        tiebreak = 0
        while made < self.n:
            if pending and pending[0][0] <= made:
                yield heapq.heappop(pending)[2]
                made += 1
                continue
            generation = rng.choice(GENERATIONS)
            if rng.random() < QC_SHARE:
                question = self.qc_question(generation)
                yield self.record(question, generation, True, rng.choice(self.labelers))
                made += 1
                continue
            question = self.question()
            extra = rng.choice((1, 1, 2)) if rng.random() < MULTI_LABELED_SHARE else 0
            who = rng.sample(self.labelers, 1 + extra)
            yield self.record(question, generation, False, who[0])
            made += 1
            for labeler in who[1:]:
                tiebreak += 1
                at = made + rng.randint(0, 200)
                heapq.heappush(
                    pending, (at, tiebreak, self.record(question, generation, False, labeler))
                )


def _c(text, rating, flagged):
    return {"text": text, "rating": rating, "flagged": flagged}


def _step(completions, chosen):
    return {"completions": completions, "human_completion": None, "chosen_completion": chosen}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--labelings", type=int, required=True, help="number of lines to write")
    parser.add_argument("--out", required=True, help="output .jsonl file ('-' for stdout)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if args.labelings < 0:
        parser.error("--labelings must be >= 0")
    started = time.perf_counter()
    gen = Generator(args.labelings, args.seed)
    out = sys.stdout if args.out == "-" else open(args.out, "w", encoding="ascii", newline="")  # noqa: SIM115
    written = 0
    size = 0
    block: list[str] = []
    try:
        for line in gen.lines():
            block.append(line)
            if len(block) >= 1000:
                chunk = "\n".join(block) + "\n"
                out.write(chunk)
                size += len(chunk)
                written += len(block)
                block = []
        if block:
            chunk = "\n".join(block) + "\n"
            out.write(chunk)
            size += len(chunk)
            written += len(block)
    finally:
        if out is not sys.stdout:
            out.close()
    elapsed = time.perf_counter() - started
    print(
        f"wrote {written} labelings, {size / 1e6:.1f} MB "
        f"({size / max(written, 1) / 1e3:.2f} KB/line) to {args.out} in {elapsed:.1f}s",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
