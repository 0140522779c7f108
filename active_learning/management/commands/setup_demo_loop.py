"""Loop settings for the embedded demo: retrain after a handful of labels, quickly, on CPU.

Head-mode training on the shipped SmolLM2-135M backbone cut to its first layers, and a small
generation, so one turn of the loop (train, score the pool, publish) takes minutes on a laptop.
Idempotent: settings a lead has changed since are left alone.
"""

from django.core.management.base import BaseCommand

from active_learning.models import LoopSettings, TrainingMode
from labeling.models import Project

DEMO_PROJECT = "MATH demo (ProcessBench solutions)"
DEMO_LOOP = {
    "retrain_every": 5,  # a short labeling session shows a turn of the loop
    "batch_size": 40,
    "per_problem_cap": 2,
    "training_mode": TrainingMode.HEAD,
    "max_length": 1024,
    "epochs": 3,
    "backbone": "smollm2",
    "keep_layers": 4,  # of 30: the demo shows the loop, not the best PRM
    "score_chunk_size": 200,
}


class Command(BaseCommand):
    help = "Give the demo project loop settings that make one retraining take minutes on CPU."

    def handle(self, *args, **options):
        project = Project.objects.filter(name=DEMO_PROJECT).first()
        if project is None:
            self.stdout.write("No demo project (run load_demo first); nothing to set.")
            return
        _, created = LoopSettings.objects.get_or_create(project=project, defaults=DEMO_LOOP)
        if created:
            self.stdout.write(
                f"Demo loop: retrain after every {DEMO_LOOP['retrain_every']} labelings "
                f"(head mode on smollm2, first {DEMO_LOOP['keep_layers']} layers)."
            )
        # The backbone's features of the pool, computed by the gpu worker while the first
        # labels come in: the first retrain then scores the pool from the cache (seconds)
        # instead of one backbone pass over it (minutes on a 2-core CPU). Idempotent: cached
        # solutions are not computed again.
        from active_learning.tasks import features_warm_queue

        try:
            features_warm_queue(project)  # the loop page says a run waits for it
        except Exception as exc:  # no broker: the first run computes them instead
            self.stdout.write(f"Could not queue the demo's feature warm-up ({exc}).")
