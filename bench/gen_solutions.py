#!/usr/bin/env python
"""Write a synthetic pool of candidate solutions (JSON Lines, the `import_solutions` layout).

    .venv/bin/python bench/gen_solutions.py --solutions 100000 --out bench/out/pool-100000.jsonl

Each line is one step-labeling task of about 1.7 KB, shaped like issue 15's harness (8-16
steps): a LaTeX-flavoured problem of 250-450 characters (one problem per 20 solutions, with a
reference answer), 8-16 steps of 60-110 characters ending with a PRM800K `# Answer` step, a
generator name and a small `metadata` object. About a third of the answers match the reference.
Deterministic for a seed; no Django needed.
"""

import argparse
import json
import random
import sys

WORDS = (
    "let", "we", "have", "so", "then", "the", "sum", "of", "and", "is", "equal", "to", "since",
    "therefore", "compute", "substitute", "factor", "expand", "simplify", "divide", "both",
    "sides", "by", "multiply", "note", "that", "gives", "which", "means",
)  # fmt: skip
MATH = ("$x^2 + 3x - 4 = 0$", "$\\frac{a}{b}$", "$\\sqrt{2}$", "$2^{10}$", "$\\pi r^2$",
        "$\\binom{n}{k}$", "$a_n = a_{n-1} + 2$", "$\\sin \\theta$", "$\\log_2 8$")  # fmt: skip
SOLUTIONS_PER_PROBLEM = 20


def sentence(rng: random.Random, low: int, high: int) -> str:
    target = rng.randint(low, high)
    parts: list[str] = []
    size = 0
    while size < target:
        part = rng.choice(MATH) if rng.random() < 0.2 else rng.choice(WORDS)
        parts.append(part)
        size += len(part) + 1
    text = " ".join(parts)
    return text[:1].upper() + text[1:] + "."


def pool(count: int, seed: int, first_problem: int = 0):
    rng = random.Random(seed)
    problems = {}
    for i in range(count):
        index = first_problem + i // SOLUTIONS_PER_PROBLEM
        if index not in problems:
            problems.clear()  # one problem at a time: memory stays flat
            problems[index] = (
                f"Problem {index}: " + sentence(rng, 250, 450),
                str(rng.randint(1, 999)),
            )
        problem, reference = problems[index]
        answer = reference if rng.random() < 0.35 else str(rng.randint(1, 999))
        steps = [sentence(rng, 60, 110) for _ in range(rng.randint(7, 15))]
        steps.append(f"So the answer is {answer}.\n\n# Answer\n\n{answer}")
        yield {
            "problem": problem,
            "reference_answer": reference,
            "steps": steps,
            "generator": "bench-generator-7b",
            "metadata": {"temperature": 0.7, "sample": i},
        }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--solutions", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--first-problem",
        type=int,
        default=0,
        help="number of the first problem (batches for one project: new problems each)",
    )
    parser.add_argument("--out", default="-")
    args = parser.parse_args(argv)
    out = sys.stdout if args.out == "-" else open(args.out, "w", encoding="utf-8")  # noqa: SIM115
    with out:
        for record in pool(args.solutions, args.seed, args.first_problem):
            out.write(json.dumps(record))
            out.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
