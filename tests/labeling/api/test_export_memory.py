"""Exports stream: the memory an export takes does not grow with the number of labelings."""

import copy
import io
import json
import tracemalloc

import pytest

from labeling import exports
from labeling.models import ExportFormat, Project
from labeling.services.prm800k import prm800k_import
from tests.conftest import PRM800K_SAMPLES

pytestmark = pytest.mark.django_db

CHUNK = 50  # rows fetched per round trip in this test (the real chunk is 2,000)


def make_project(name: str, count: int) -> Project:
    samples = [json.loads(x) for x in PRM800K_SAMPLES.read_text(encoding="utf-8").splitlines()]
    lines = []
    for i in range(count):
        record = copy.deepcopy(samples[i % len(samples)])
        record["question"]["problem"] += f" (variant {i})"
        lines.append(json.dumps(record))
    data = "".join(line + "\n" for line in lines).encode()
    prm800k_import(stream=io.BytesIO(data), name="gen.jsonl", project_name=name)
    return Project.objects.get(name=name)


def peak_bytes(project, fmt, path) -> int:
    tracemalloc.start()
    try:
        rows = exports.write_export(project=project, export_format=fmt, filters={}, path=path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert rows > 0
    return peak


def test_export_memory_does_not_grow_with_the_number_of_labelings(monkeypatch, tmp_path):
    monkeypatch.setattr(exports, "EXPORT_CHUNK", CHUNK)
    small, large = make_project("small", 4 * CHUNK), make_project("large", 24 * CHUNK)
    for fmt in (ExportFormat.PRM800K, ExportFormat.TRAINING_JSONL, ExportFormat.STEPS_CSV):
        peak_bytes(small, fmt, tmp_path / "warm-up")  # imports and caches, once
        small_peak = peak_bytes(small, fmt, tmp_path / "small")
        large_peak = peak_bytes(large, fmt, tmp_path / "large")
        size_ratio = (tmp_path / "large").stat().st_size / (tmp_path / "small").stat().st_size
        assert size_ratio > 5, fmt  # six times the data ...
        assert large_peak < 1.5 * small_peak, (fmt, small_peak, large_peak)  # ... same memory
