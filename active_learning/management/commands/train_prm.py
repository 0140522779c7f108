from active_learning.services import model_train
from labeling.management.commands._base import ServiceCommand
from labeling.models import Project


class Command(ServiceCommand):
    help = "Train a new PRM version on a project's labels and publish it as the current model."

    def add_arguments(self, parser):
        parser.add_argument("--project", required=True)
        parser.add_argument("--backbone", default=None, help="Hugging Face id, folder or 'smollm2'")
        parser.add_argument("--epochs", type=int, default=3)
        parser.add_argument(
            "--mode",
            choices=["full", "lora", "head"],
            default=None,
            help="default: head on CPU, full on GPU",
        )
        parser.add_argument(
            "--keep-layers",
            type=int,
            default=None,
            help="use only the backbone's first N layers (cheaper on CPU)",
        )
        parser.add_argument("--max-length", type=int, default=1024)
        parser.add_argument("--batch-size", type=int, default=8)
        parser.add_argument("--learning-rate", type=float, default=None)
        parser.add_argument(
            "--neutral-as", choices=["positive", "negative", "own"], default="positive"
        )
        parser.add_argument("--seed", type=int, default=0)

    def handle(self, *args, **o):
        import torch

        from active_learning.prm.training import TrainConfig

        project = Project.objects.filter(name=o["project"]).first()
        if project is None:
            from django.core.management.base import CommandError

            raise CommandError(f"No project named {o['project']!r}.")
        mode = o["mode"] or ("full" if torch.cuda.is_available() else "head")
        config = TrainConfig(
            mode=mode,
            epochs=o["epochs"],
            max_length=o["max_length"],
            batch_size=o["batch_size"],
            seed=o["seed"],
        )
        if o["learning_rate"] is not None:
            config.learning_rate = config.head_learning_rate = o["learning_rate"]
        version = model_train(
            project=project,
            backbone=o["backbone"],
            config=config,
            keep_layers=o["keep_layers"],
            neutral=o["neutral_as"],
            progress=self._progress,
        )
        self.stdout.write(f"\nModel version {version.pk} is ready and current.")
        self.stdout.write(f"Held-out step ROC AUC: {version.metrics.get('held_out_step_roc_auc')}")

    def _progress(self, p):
        if p.step == p.total_steps or p.step % 10 == 0:
            eta = f", ETA {p.eta_seconds:.0f}s" if p.eta_seconds is not None else ""
            self.stderr.write(f"  {p.phase} {p.step}/{p.total_steps} loss {p.loss:.4f}{eta}")
