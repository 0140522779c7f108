"""The REST smoke mode of `simulate_active_learning --smoke`: the whole loop end to end.

This checks that the loop runs through the API with simulated annotators; it is slow (a backbone
pass a round) and is NOT the experiment that measures whether active selection pays: that is
`active_learning.experiments` (the command's default mode, issue 12), which reuses cached frozen
features and runs many seeds in minutes.

Simulated annotators label through the real labeling API (next task, open, draft, submit) from
an oracle: ProcessBench's expert labels (`label` = index of the first wrong step, -1 if none).
Steps before `label` are Positive, the step at `label` Negative and the rest unrated
(`found_error`); `label` -1 rates every step Positive (`solution`).

ProcessBench problems are split once per seed: a held-out share never enters the pool and
evaluates every round's PRM (step ROC AUC and first-error F1,
`services.evaluation.processbench_evaluate`);
the rest are the candidate pool of a fresh project per strategy. Round 1 labels a seeded uniform
batch (no model exists yet; the same solutions for every strategy). Every round then runs one
turn of the real loop in process (`loop.in_process.run_round`: train a PRM on all labels so far,
score the unlabeled pool, select the next batch with the strategy and publish it as a new
generation), evaluates the new model on the held-out problems, and the annotators label the new
generation. The last round's generation is published but not labeled.
"""
