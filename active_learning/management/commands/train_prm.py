from pathlib import Path

from django.conf import settings
from django.core.management.base import CommandError

from active_learning.services.training import model_train, split_train_validation, training_data
from labeling.management.commands._base import ServiceCommand
from labeling.models import Project


def _bool(text: str) -> bool:
    if text.lower() in ("1", "true", "yes", "on"):
        return True
    if text.lower() in ("0", "false", "no", "off"):
        return False
    raise ValueError(f"{text!r} is not yes or no")


class Command(ServiceCommand):
    help = (
        "Train a new PRM version on a project's labels and publish it as the current model. "
        "On several GPUs: torchrun --nproc_per_node N manage.py train_prm ... (DDP, or FSDP "
        "with --fsdp); every process trains, rank 0 alone evaluates and publishes the one "
        "version. With --export-examples, write the training and validation examples as JSON "
        "Lines for a run outside Django (python -m active_learning.prm.launch)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--project", required=True)
        parser.add_argument("--backbone", default=None, help="Hugging Face id, folder or 'smollm2'")
        parser.add_argument("--epochs", type=int, default=3)
        parser.add_argument(
            "--mode",
            choices=["full", "lora", "head", "auto"],
            default="auto",
            help="auto (default): lora on a CUDA device, head on CPU",
        )
        parser.add_argument(
            "--keep-layers",
            type=int,
            default=None,
            help="use only the backbone's first N layers (cheaper on CPU)",
        )
        parser.add_argument("--max-length", type=int, default=1536)  # TrainConfig.max_length
        parser.add_argument("--batch-size", type=int, default=8, help="per device")
        parser.add_argument(
            "--token-budget",
            type=int,
            default=None,
            help="tokens per micro-batch instead of --batch-size solutions (length-grouped)",
        )
        parser.add_argument("--grad-accumulation", type=int, default=1)
        parser.add_argument(
            "--learning-rate",
            type=float,
            default=None,
            help="default per mode: full 2e-5, lora 2e-4, head 1e-3",
        )
        parser.add_argument("--lora-rank", type=int, default=16)
        parser.add_argument("--lora-alpha", type=int, default=None, help="default 2 x rank")
        parser.add_argument("--gradient-checkpointing", type=_bool, default=False)
        parser.add_argument("--packing", type=_bool, default=True, help="padding-free batches")
        parser.add_argument("--precision", choices=["auto", "bf16", "fp32"], default="auto")
        parser.add_argument("--attn-implementation", default=None, help="e.g. flash_attention_2")
        parser.add_argument(
            "--fsdp",
            choices=["full_shard", "shard_grad_op"],
            default="",
            help="under torchrun on GPUs: shard the model over the processes (FSDP2)",
        )
        parser.add_argument("--patience", type=int, default=2)
        parser.add_argument("--output-dir", default=None, help="Trainer checkpoints (resumable)")
        parser.add_argument(
            "--resume-from-checkpoint", default=None, help="a checkpoint folder or 'latest'"
        )
        parser.add_argument(
            "--neutral-as", choices=["positive", "negative", "own"], default="positive"
        )
        parser.add_argument("--seed", type=int, default=0)
        parser.add_argument(
            "--export-examples",
            default=None,
            metavar="FOLDER",
            help="write FOLDER/train.jsonl and FOLDER/val.jsonl instead of training",
        )

    def handle(self, *args, **o):
        from active_learning.loop.stages.train import resolve_training_mode
        from active_learning.prm import distributed
        from active_learning.prm.training import TrainConfig

        project = Project.objects.filter(name=o["project"]).first()
        if project is None:
            raise CommandError(f"No project named {o['project']!r}.")
        if o["export_examples"]:
            return self._export(project, o)
        if o["keep_layers"] is not None and o["keep_layers"] < 1:
            raise CommandError("--keep-layers must be at least 1 (or left out: every layer)")
        mode = resolve_training_mode(o["mode"])
        if distributed.world_size() > 1 and mode == "head":
            raise CommandError(
                "head mode trains on one process (the backbone is frozen): run it without "
                "torchrun, or choose --mode full or lora"
            )
        try:
            config = TrainConfig(
                mode=mode,
                epochs=o["epochs"],
                max_length=o["max_length"],
                batch_size=o["batch_size"],
                token_budget=o["token_budget"],
                grad_accumulation=o["grad_accumulation"],
                learning_rate=o["learning_rate"],
                lora_rank=o["lora_rank"],
                lora_alpha=o["lora_alpha"],
                gradient_checkpointing=o["gradient_checkpointing"],
                packing=o["packing"],
                precision=o["precision"],
                attn_implementation=o["attn_implementation"],
                fsdp=o["fsdp"],
                patience=o["patience"],
                output_dir=o["output_dir"],
                resume_from_checkpoint=o["resume_from_checkpoint"],
                seed=o["seed"],
            )
        except ValueError as exc:  # names the option (TrainConfig's field for --option-name)
            raise CommandError(str(exc)) from None
        try:
            if not distributed.is_main_process():
                return self._train_replica(project, o, config)
            version = model_train(
                project=project,
                backbone=o["backbone"],
                config=config,
                keep_layers=o["keep_layers"],
                neutral=o["neutral_as"],
                progress=self._progress,
            )
        finally:
            _leave_process_group()
        self.stdout.write(f"\nModel version {version.pk} ({mode}) is ready and current.")
        self.stdout.write(f"Held-out step ROC AUC: {version.metrics.get('held_out_step_roc_auc')}")
        rate = version.metrics.get("throughput", {})
        if rate.get("tokens_per_second"):
            mfu = rate.get("mfu")
            self.stdout.write(
                f"Throughput: {rate['tokens_per_second']:.0f} tokens/s, "
                f"{rate['labeled_steps_per_second']:.1f} labeled steps/s, MFU "
                + (f"{100 * mfu:.1f}%" if mfu is not None else "n/a (no known peak)")
            )

    def _train_replica(self, project, o, config):
        """A process of rank > 0 under torchrun: the same examples, the same backbone, the same
        training (Trainer's DDP or FSDP keeps it in step with rank 0, and `train` checks that
        every process holds rank 0's examples), and nothing written: rank 0's `model_train`
        evaluates and publishes the one version."""
        from active_learning.prm import backbones, distributed
        from active_learning.prm.tokenization import StepTokenizer
        from active_learning.prm.training import train

        examples, _held_out, _snapshot = training_data(project, o["neutral_as"])
        fit, validation = split_train_validation(examples)
        model, tokenizer = backbones.load(
            o["backbone"] or settings.PRM_BACKBONE,
            cache_dir=Path(settings.MODELS_DIR) / "backbones",
            keep_layers=o["keep_layers"],
            attn_implementation=config.attn_implementation,
            device=f"cuda:{distributed.local_rank()}" if _cuda() else "cpu",
        )
        step_tokenizer = StepTokenizer(tokenizer, max_length=config.max_length)
        train(model, step_tokenizer, fit, validation, config)

    def _export(self, project, o):
        from active_learning.prm.launch import write_examples

        train, _held_out, snapshot = training_data(project, o["neutral_as"])
        fit, validation = split_train_validation(train)
        folder = Path(o["export_examples"])
        n = write_examples(fit, folder / "train.jsonl")
        m = write_examples(validation, folder / "val.jsonl")
        self.stdout.write(
            f"Wrote {n} training and {m} validation examples to {folder} "
            f"(data fingerprint {snapshot['fingerprint'][:12]}; held-out examples not exported)."
        )

    def _progress(self, p):
        if p.step == p.total_steps or p.step % 10 == 0:
            eta = f", ETA {p.eta_seconds:.0f}s" if p.eta_seconds is not None else ""
            self.stderr.write(f"  {p.phase} {p.step}/{p.total_steps} loss {p.loss:.4f}{eta}")


def _cuda() -> bool:
    import torch

    return torch.cuda.is_available()


def _leave_process_group() -> None:
    """Under torchrun, end this process's part in the process group Trainer set up (torch warns
    at exit about a group left open)."""
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()
