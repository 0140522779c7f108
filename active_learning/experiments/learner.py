"""The experiment's learner: a logistic head on frozen step features (`Head`), the pool as
arrays (`Data`), and its held-out evaluation (step ROC AUC, first-error F1)."""

from dataclasses import dataclass, field

import numpy as np

from active_learning.experiments.design import Split
from active_learning.prm import evaluation

# -- the learner -------------------------------------------------------------------------------


def labeled_steps(features: np.ndarray, first_error: int) -> tuple[np.ndarray, np.ndarray]:
    """(X, y) of a solution's labeled steps: every kept step up to and including the first
    wrong one; y = 1 for a good step, 0 for the wrong one. A first error beyond the kept
    (truncated) steps is lost: the kept steps count as good."""
    n = features.shape[0]
    last = n if first_error < 0 or first_error >= n else first_error + 1
    y = np.ones(last, dtype=np.int64)
    if 0 <= first_error < n:
        y[first_error] = 0
    return features[:last], y


class Head:
    """Standardised logistic regression on step features: P(step is good)."""

    def __init__(self, regularization: float = 0.05, balanced: bool = False):
        self.c = regularization
        self.balanced = balanced
        self.model = None
        self.constant = 0.5

    def fit(self, x: np.ndarray, y: np.ndarray) -> "Head":
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler

        if len(set(y.tolist())) < 2:  # one class only: a constant predictor
            self.model, self.constant = None, float(y.mean()) if len(y) else 0.5
            return self
        self.model = make_pipeline(
            StandardScaler(),
            LogisticRegression(
                C=self.c, max_iter=300, class_weight="balanced" if self.balanced else None
            ),
        ).fit(x, y)
        return self

    def predict(self, x: np.ndarray) -> np.ndarray:
        if self.model is None:
            return np.full(len(x), self.constant)
        return self.model.predict_proba(x)[:, 1]


@dataclass
class Data:
    """A pool as arrays: per item its step features, first error, grade, problem, truncation."""

    features: list[np.ndarray]
    first_error: np.ndarray
    final_correct: list[bool | None]
    problems: list[str]
    truncated: np.ndarray
    _stacked: np.ndarray | None = field(default=None, repr=False)
    _offsets: np.ndarray | None = field(default=None, repr=False)

    @classmethod
    def from_items(cls, items) -> "Data":
        return cls(
            [i.features for i in items],
            np.array([i.first_error for i in items]),
            [i.final_correct for i in items],
            [i.problem for i in items],
            np.array([bool(i.truncated) for i in items]),
        )

    def projected(self, fit_on: list[int], dims: int, seed: int) -> "Data":
        """The same pool with every step's features projected on the first `dims` principal
        components of the steps of `fit_on` (unsupervised; labels unused)."""
        if dims <= 0 or dims >= self.features[0].shape[1]:
            return self
        from sklearn.decomposition import PCA

        pca = PCA(n_components=dims, random_state=seed, svd_solver="randomized")
        pca.fit(np.concatenate([self.features[i] for i in fit_on]))
        stacked, offsets = self.stacked()
        flat = pca.transform(stacked).astype(np.float32)
        return Data(
            [flat[offsets[i] : offsets[i + 1]] for i in range(len(self.features))],
            self.first_error,
            self.final_correct,
            self.problems,
            self.truncated,
        )

    def stacked(self) -> tuple[np.ndarray, np.ndarray]:
        if self._stacked is None:
            self._stacked = np.concatenate(self.features)
            self._offsets = np.cumsum([0] + [len(f) for f in self.features])
        return self._stacked, self._offsets

    def step_probs(self, head: Head, indices: list[int]) -> list[np.ndarray]:
        stacked, offsets = self.stacked()
        rows = np.concatenate([np.arange(offsets[i], offsets[i + 1]) for i in indices])
        probs = head.predict(stacked[rows]) if len(rows) else np.empty(0)
        out, at = [], 0
        for i in indices:
            n = offsets[i + 1] - offsets[i]
            out.append(probs[at : at + n])
            at += n
        return out

    def training_set(self, indices: list[int]) -> tuple[np.ndarray, np.ndarray, int]:
        xs, ys = [], []
        for i in indices:
            x, y = labeled_steps(self.features[i], int(self.first_error[i]))
            xs.append(x)
            ys.append(y)
        width = self.features[0].shape[1]
        x = np.concatenate(xs) if xs else np.empty((0, width))
        y = np.concatenate(ys) if ys else np.empty(0, dtype=np.int64)
        return x, y, len(y)


def evaluate(data: Data, head: Head, split: Split) -> dict:
    """Held-out metrics of a head: step ROC AUC (steps up to the first error, test split),
    first-error F1 at the validation-chosen threshold and at 0.5, truncation counted."""
    test_probs = data.step_probs(head, split.test)
    good, values = [], []
    for i, probs in zip(split.test, test_probs, strict=True):
        fe = int(data.first_error[i])
        for k, value in enumerate(probs):
            if fe < 0 or k <= fe:
                good.append(fe < 0 or k < fe)
                values.append(float(value))
    val_probs = data.step_probs(head, split.validation)
    val_labels = [
        label_within(int(data.first_error[i]), len(p))
        for i, p in zip(split.validation, val_probs, strict=True)
    ]
    threshold = evaluation.choose_threshold(val_labels, [p.tolist() for p in val_probs])
    test_labels = [
        label_within(int(data.first_error[i]), len(p))
        for i, p in zip(split.test, test_probs, strict=True)
    ]
    steps = [p.tolist() for p in test_probs]
    f1 = evaluation.first_error_f1(test_labels, steps, threshold)
    f1_half = evaluation.first_error_f1(test_labels, steps, 0.5)
    return {
        "step_auc": evaluation.roc_auc(good, values),
        "f1": f1.f1,
        "f1_at_half": f1_half.f1,
        "threshold": threshold,
        "test_truncated": int(data.truncated[split.test].sum()),
    }


def mean_first_error(data: Data, picked: list[int]) -> float | None:
    """Mean 0-based index of the first wrong step over picked solutions that have a kept one."""
    positions = [
        fe
        for i in picked
        if (fe := label_within(int(data.first_error[i]), len(data.features[i]))) >= 0
    ]
    return float(np.mean(positions)) if positions else None


def label_within(first_error: int, kept: int) -> int:
    """A first error the truncation cut off cannot be found: score as 'no error' within."""
    return first_error if 0 <= first_error < kept else -1
