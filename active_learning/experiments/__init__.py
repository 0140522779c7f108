"""The active-learning experiment (issue 12): does "convincing wrong answers" selection make a
PRM better per label than uniform selection, on frozen backbone features? (no Django)

Setup (Lightman et al. 2023, "Let's Verify Step by Step", section 4): for each seed the pool's
problems are split three ways (problem-level hold-out): a test split (the primary metric), a
validation split (only to fix the first-error threshold) and the selection pool. Every arm starts
from the same uniform seed batch. A cheap head (logistic regression on the cached hidden states
of each step's label token, the loop's `head` mode) is trained on the labeled steps: every step
up to and including the first wrong one (as PRM800K annotators label), good = before the first
error. A solution's score is the product of its step probabilities (the loop's default).

Arms (`ARMS`):

- ``uniform``: a seeded random sample (the baseline);
- ``convincing_wrong``: `selection.plan` with the batch-level quota: the wrong-answer share of
  the batch from the highest-scoring solutions whose final answer is graded wrong;
- ``wrong_random``: the same share of graded-wrong answers, chosen at random (the control for
  "more wrong answers" alone);
- ``oracle``: hard negatives chosen with the oracle's step labels: the wrong-answer share of the
  batch from the solutions with a labelable wrong step (the first error within the kept steps),
  those whose first wrong step the current head scores most likely good first (the head is
  most fooled exactly where the label will correct it); the rest as convincing_wrong does. The
  ceiling of what hard negatives can give this learner;
- ``oracle_product``: the first version of the oracle, kept as a secondary arm: the same
  process-wrong solutions ranked by the solution score (the product of all step
  probabilities). That score rewards short solutions (fewer factors below 1), so it mostly
  picks short solutions with an early error: few labels each, and not the head's hardest
  errors; it is not a ceiling (see docs/active-learning-simulation.md);
- ``uniform_balanced`` (optional): uniform, with a class-weighted head.

Forms: ``iterative`` (retrain after every batch and select the next with the new head) and
``one_shot`` (the head trained on the seed batch selects the whole budget in one serving order,
evaluated at the same budgets by prefixes; the paper's section 4.2 form).

Metrics per evaluation point: held-out step ROC AUC over every step up to the first error
(primary), first-error F1 with the threshold chosen on the validation split and at 0.5
(`prm.evaluation`), step labels and solutions spent, the wrong-answer share served, the kept
steps per picked solution and the mean position of their first wrong step.

Statistics: per-seed paired differences between arms with a 95% t-interval, at the final budget
(equal solutions: the decision rule's axis) and at equal step labels (`paired_at_labels`); the
data-efficiency ratio (labels uniform needs to reach an arm's final quality, over the labels that
arm used) by interpolation on the mean curves and by the paper's method (lines fitted to
quality against log labels).
"""
