"""The generator: sample step-by-step candidate solutions to a project's problems with a causal
language model, parse them into steps and a final answer, grade them and store them as
candidates (issue 18; docs/generator.md).

- `parsing`: raw model text -> steps and final answer (no Django, no torch);
- `options`: the generator's settings, checked (no Django, no torch: the web uses it);
- `sampling`: prompts, model loading and batched sampling (torch, no Django);
- `services`: storing, grading, the stand-alone generator run, `sample_next_steps`;
- `stage`: the loop's "generate" stage of a run.
"""
