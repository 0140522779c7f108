from django.core.management.base import BaseCommand, CommandError

from active_learning.forms import unescape_separator
from active_learning.generator.options import DEFAULT_TEMPLATE, GeneratorOptions
from active_learning.models import RunTrigger
from labeling.errors import ApplicationError
from labeling.models import Project

DEFAULTS = GeneratorOptions()


class Command(BaseCommand):
    help = (
        "Sample step-by-step candidate solutions to a project's problems with a language model, "
        "parse their steps and final answers, grade and store them (docs/generator.md). Runs "
        "here as a generator run (listed on the loop page); --background queues it for a `gpu` "
        "worker instead."
    )

    def add_arguments(self, parser):
        parser.add_argument("--project", required=True, help="project name")
        parser.add_argument(
            "--model",
            default="",
            help="Hugging Face id, local folder or smollm2 (default: the GENERATOR_MODEL setting)",
        )
        parser.add_argument("--samples-per-problem", "-n", type=int, default=4)
        parser.add_argument("--temperature", type=float, default=DEFAULTS.temperature)
        parser.add_argument("--top-p", type=float, default=DEFAULTS.top_p)
        parser.add_argument("--max-new-tokens", type=int, default=DEFAULTS.max_new_tokens)
        parser.add_argument("--seed", type=int, default=0)
        parser.add_argument("--batch-size", type=int, default=DEFAULTS.batch_size)
        parser.add_argument(
            "--prompt-template-file",
            help="a text file with the prompt template ({problem} is replaced by the problem; "
            "literal braces doubled); default: a PRM800K-style template (docs/generator.md)",
        )
        parser.add_argument(
            "--step-separator", default="\\n\\n", help="between steps (\\n: a line break)"
        )
        parser.add_argument(
            "--stop", action="append", help="text that ends a solution (repeatable)"
        )
        parser.add_argument(
            "--all-problems",
            action="store_true",
            help="sample for every problem, not only those with fewer unlabeled candidates "
            "than --samples-per-problem",
        )
        parser.add_argument("--problem-id", type=int, action="append", dest="problem_ids")
        parser.add_argument("--chat-template", action="store_true", dest="use_chat_template")
        parser.add_argument("--device", default="", help="cpu, cuda or cuda:N (default: auto)")
        parser.add_argument("--background", action="store_true", help="queue it for a `gpu` worker")

    def handle(self, *args, **opts):
        from active_learning import generator_runs
        from active_learning.loop import in_process

        project = Project.objects.filter(name=opts["project"]).first()
        if project is None:
            raise CommandError(f"No project named {opts['project']!r}.")
        template = DEFAULT_TEMPLATE
        if opts["prompt_template_file"]:
            try:
                with open(opts["prompt_template_file"], encoding="utf-8") as handle:
                    template = handle.read()
            except OSError as exc:
                raise CommandError(f"--prompt-template-file: {exc}") from None
            except UnicodeDecodeError as exc:
                raise CommandError(f"--prompt-template-file: not UTF-8 text ({exc})") from None
        options = {
            "model": opts["model"],
            "samples_per_problem": opts["samples_per_problem"],
            "temperature": opts["temperature"],
            "top_p": opts["top_p"],
            "max_new_tokens": opts["max_new_tokens"],
            "seed": opts["seed"],
            "batch_size": opts["batch_size"],
            "prompt_template": template,
            "step_separator": unescape_separator(opts["step_separator"]),
            "only_needed": not opts["all_problems"],
            "use_chat_template": opts["use_chat_template"],
            "device": opts["device"],
        }
        if opts["stop"]:
            options["stop"] = [unescape_separator(s) for s in opts["stop"]]
        generate = {"only": True, "options": options, "problem_ids": opts["problem_ids"]}
        try:
            if opts["background"]:
                run = generator_runs.generation_run_start(
                    project=project,
                    options=options,
                    problem_ids=opts["problem_ids"],
                    trigger=RunTrigger.COMMAND,
                )
                self.stdout.write(f"Generator run {run.pk} queued for a gpu worker.")
                return
            run = in_process.run_round(project, trigger=RunTrigger.COMMAND, generate=generate)
        except ApplicationError as exc:
            raise CommandError(str(exc)) from None
        except Exception as exc:  # the model failed to load or run: the run says why too
            raise CommandError(f"{type(exc).__name__}: {exc}") from None
        from active_learning.generator.stage import summary

        self.stdout.write(f"Run {run.pk}: {summary(run.throughput['generation'])}")
