"""The web process never imports torch (STYLE.md; issue 17: it held "by luck", cut by one
function-local import). The import-linter contracts in pyproject.toml check the static graph;
this starts the web process's code for real (settings, apps' ready(), every URL pattern and its
view, the WSGI application) and looks at what got imported, which also catches an import made
by name (importlib, a dotted string in settings) that the static graph cannot see."""

import subprocess
import sys

from tests.conftest import ROOT

ML_PACKAGES = ("torch", "transformers", "peft", "accelerate", "safetensors", "gguf", "matplotlib")
CODE = """
import os, sys
os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings.test"
from config.wsgi import application  # django.setup(): settings, every app's ready()
from django.urls import get_resolver

def walk(patterns):
    for pattern in patterns:
        if hasattr(pattern, "url_patterns"):
            walk(pattern.url_patterns)
        else:
            pattern.callback  # the view, imported

walk(get_resolver().url_patterns)
heavy = {ML_PACKAGES!r}
loaded = sorted(m for m in sys.modules if m.split(".")[0] in heavy)
training = sorted(
    m for m in sys.modules
    if m.startswith(("active_learning.prm.training", "active_learning.prm.model",
                     "active_learning.services", "active_learning.simulation",
                     "active_learning.loop.stages", "active_learning.loop.in_process",
                     "active_learning.loop.warm", "active_learning.tasks"))
)
assert not loaded and not training, (loaded[:10], training)
print("ok", len(sys.modules))
"""


def test_the_web_process_imports_no_ml_package_and_no_training_code():
    result = subprocess.run(
        [sys.executable, "-c", CODE.replace("{ML_PACKAGES!r}", repr(ML_PACKAGES))],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.startswith("ok")
