"""Orchestrating the PRM from Django: `training` (training data from labelings, training and
atomic publishing of a model version), `scoring` (scoring solutions with a version, the
frozen-backbone feature cache), `evaluation` (ProcessBench evaluation reports).

`active_learning.prm` does the model work on plain data; these modules read and write the
database and the checkpoint folders. Torch is imported lazily, so the web process never loads
it (and the web modules never import these: an import-linter contract in pyproject.toml).
"""
