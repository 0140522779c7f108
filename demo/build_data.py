"""Rebuild the demo's own data (demo/data/) from the full sets in ../shared/data.

The demo must run from a bare clone, so the repository carries a compact slice of the real data
it shows (demo/README.md says what and under which licences). This script is how the slice was
made, so that anyone can check it or make it again:

    python demo/build_data.py [--shared ../shared/data] [--solutions 240]

- ProcessBench MATH solutions: a seeded sample of `--solutions` of the 1,000, among those with
  at most MAX_STEPS steps and MAX_CHARS characters (quick to label, quick to score on a CPU),
  keeping ProcessBench's mix of correct, wrong-answer and flawed-but-right-answer solutions;
- the MATH test problems those solutions answer, with reference solution and answer (matched on
  the problem text once the verl prompt suffix is stripped, as the importer does);
- PRM800K's sample records, byte for byte;
- quality_control.json: which of the sampled solutions form the screening set and which are gold
  questions; their gold labels are ProcessBench's expert first-error labels.

Standard library only (Parquet through pyarrow, a dependency of the project).
"""

import argparse
import json
import random
import shutil
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "demo" / "data"
SEED = 14
MAX_STEPS = 12  # long solutions make slow labeling and slow CPU scoring
MAX_CHARS = 3000
SCREENING = 2  # short solutions, one correct and one with an early error
GOLD = 6
PROMPT_SUFFIX = " Let's think step by step and output the final answer within \\boxed{}."


def _kind(solution: dict) -> str:
    if solution["label"] == -1:
        return "correct"
    return "flawed-right-answer" if solution["final_answer_correct"] else "wrong-answer"


def _sample(solutions: list[dict], size: int, rng: random.Random) -> list[dict]:
    """A sample of `size` keeping each kind's share (largest remainders)."""
    by_kind = defaultdict(list)
    for solution in solutions:
        by_kind[_kind(solution)].append(solution)
    quotas = {k: size * len(v) / len(solutions) for k, v in by_kind.items()}
    counts = {k: int(q) for k, q in quotas.items()}
    for k in sorted(quotas, key=lambda k: quotas[k] - counts[k], reverse=True):
        if sum(counts.values()) < size:
            counts[k] += 1
    chosen = [s for k, v in sorted(by_kind.items()) for s in rng.sample(v, counts[k])]
    return sorted(chosen, key=lambda s: int(s["id"].split("-")[1]))


def _problems(shared: Path, texts: set[str]) -> list[dict]:
    import pyarrow.parquet as pq

    rows = pq.read_table(shared / "math_test.parquet").to_pylist()
    problems, seen = [], set()
    for row in rows:
        truth = row["reward_model"]["ground_truth"]
        text = truth["question"]
        text = text[: -len(PROMPT_SUFFIX)] if text.endswith(PROMPT_SUFFIX) else text
        if text in texts and text not in seen:
            seen.add(text)
            problems.append(
                {
                    "problem": text,
                    "solution": truth["solution"],
                    "answer": truth["target"],
                    "subject": row["type"],
                    "level": row["level"],
                    "unique_id": f"{row['extra_info']['split']}/{row['extra_info']['index']}",
                }
            )
    missing = texts - seen
    if missing:
        raise SystemExit(f"{len(missing)} ProcessBench problems not found in math_test.parquet")
    return problems


def _quality_control(solutions: list[dict], rng: random.Random) -> dict:
    short = [s for s in solutions if len(s["steps"]) <= 4]
    correct = [s for s in short if s["label"] == -1]
    early_error = [s for s in short if s["label"] in (0, 1)]
    screening = [rng.choice(correct)["id"], rng.choice(early_error)["id"]][:SCREENING]
    rest = [s["id"] for s in solutions if s["id"] not in screening and len(s["steps"]) <= 8]
    return {"screening": screening, "gold": sorted(rng.sample(rest, GOLD))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--solutions", type=int, default=240)
    args = parser.parse_args()
    rng = random.Random(SEED)
    pool = json.loads((args.shared / "processbench_math.json").read_text(encoding="utf-8"))
    eligible = [
        s for s in pool if len(s["steps"]) <= MAX_STEPS and sum(map(len, s["steps"])) <= MAX_CHARS
    ]
    solutions = _sample(eligible, args.solutions, rng)
    problems = _problems(args.shared, {s["problem"] for s in solutions})
    OUT.mkdir(parents=True, exist_ok=True)
    with open(OUT / "processbench_math.json", "w", encoding="utf-8") as out:
        # one record per line inside the array: readable diffs, still one JSON array
        out.write("[\n" + ",\n".join(json.dumps(s, ensure_ascii=False) for s in solutions))
        out.write("\n]\n")
    with open(OUT / "math_test_problems.jsonl", "w", encoding="utf-8") as out:
        out.writelines(json.dumps(p, ensure_ascii=False) + "\n" for p in problems)
    shutil.copyfile(args.shared / "prm800k_samples.jsonl", OUT / "prm800k_samples.jsonl")
    (OUT / "quality_control.json").write_text(
        json.dumps(_quality_control(solutions, rng), indent=2) + "\n", encoding="utf-8"
    )
    print(f"{len(solutions)} solutions to {len(problems)} problems written to {OUT}")


if __name__ == "__main__":
    main()
