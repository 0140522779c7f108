import json
import shlex
import sys
from pathlib import Path

from django.conf import settings
from django.core.management.base import CommandError

from active_learning.simulation import report
from active_learning.simulation.config import STRATEGIES, SimulationConfig
from active_learning.simulation.data import default_data
from active_learning.simulation.run import simulate
from labeling.management.commands._base import ServiceCommand


class SmokeCommand(ServiceCommand):
    """The REST smoke mode (`--smoke`): simulated annotators label through the API and each
    round runs the real loop in process. Slow (a backbone pass per round); for checking the
    loop end to end, not for measuring the effect (see `simulate_active_learning`)."""

    help = (
        "Simulate the active-learning loop: simulated annotators label through the API from "
        "ProcessBench's expert labels; each round's PRM is evaluated on held-out ProcessBench "
        "problems; writes a plot and a table of quality against labels for the strategies."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--strategy",
            choices=[*STRATEGIES, "both"],
            default="both",
            help="selection strategy to simulate (default: both, to compare them)",
        )
        parser.add_argument("--rounds", type=int, default=None, help="rounds (smoke: 6)")
        parser.add_argument("--batch", type=int, default=None, help="solutions a round (smoke: 50)")
        parser.add_argument(
            "--seed", type=int, nargs="+", default=[0], help="one or more seeds (default 0)"
        )
        parser.add_argument(
            "--data",
            action="append",
            default=None,
            help="ProcessBench file (repeatable; default: processbench_math.json and "
            "processbench_gsm8k.json in the shared data)",
        )
        parser.add_argument("--held-out-share", type=float, default=0.3)
        parser.add_argument(
            "--pool-size",
            type=int,
            default=None,
            help="sample the pool (without --smoke: each seed's selection pool)",
        )
        parser.add_argument("--per-problem-cap", type=int, default=4)
        parser.add_argument("--wrong-share", type=float, default=0.8)
        parser.add_argument("--annotators", type=int, default=3)
        parser.add_argument("--backbone", default=None, help="default: settings.PRM_BACKBONE")
        parser.add_argument("--keep-layers", type=int, default=None, help="smoke: 10")
        parser.add_argument("--max-length", type=int, default=None, help="smoke: 512")
        parser.add_argument("--epochs", type=int, default=20)
        parser.add_argument(
            "--feature-cache",
            default=None,
            help="file of cached frozen-backbone features (default: under --work-dir)",
        )
        parser.add_argument("--no-feature-cache", action="store_true")
        parser.add_argument("--work-dir", default=None, help="default: var/simulation")
        parser.add_argument(
            "--keep-checkpoints",
            action="store_true",
            help="keep every round's model folder (default: only each project's last)",
        )
        parser.add_argument("--label", default="", help="in project names (default: a time)")
        parser.add_argument(
            "--output",
            default=None,
            help="writes OUTPUT.md and OUTPUT.json",
        )
        parser.add_argument("--plot", default=None, help="PNG path")
        parser.add_argument(
            "--report-only",
            metavar="RESULTS_JSON",
            default=None,
            help="simulate nothing: write the plot and the table from a results file",
        )

    SMOKE_DEFAULTS = {
        "rounds": 6,
        "batch": 50,
        "keep_layers": 10,
        "max_length": 512,
        "output": "var/simulation/smoke",
        "plot": "var/simulation/smoke.png",
    }

    def handle(self, *args, **o):
        for name, value in self.SMOKE_DEFAULTS.items():
            if o.get(name) is None:
                o[name] = value
        self._options = o
        if o["report_only"]:
            try:
                results = json.loads(Path(o["report_only"]).read_text())
            except (OSError, ValueError) as exc:
                raise CommandError(f"{o['report_only']}: cannot read it ({exc})") from None
            if not isinstance(results, dict) or not {"rows", "config"} <= set(results):
                raise CommandError(f"{o['report_only']}: not a simulation results file")
            command = results.get("command") or report.command_line(results["config"])
            md_path, json_path, image = self._write(results, command=command)
            self.stdout.write(f"Wrote {md_path}, {json_path} and {image}.")
            return
        work = Path(o["work_dir"] or Path(settings.VAR_DIR) / "simulation")
        backbone = o["backbone"] or settings.PRM_BACKBONE
        cache = None
        if not o["no_feature_cache"]:
            name = f"features-{Path(backbone).name}-k{o['keep_layers']}-m{o['max_length']}.pt"
            cache = o["feature_cache"] or str(work / name)
        config = SimulationConfig(
            strategies=STRATEGIES if o["strategy"] == "both" else (o["strategy"],),
            rounds=o["rounds"],
            batch=o["batch"],
            seeds=tuple(o["seed"]),
            data=tuple(o["data"] or default_data()),
            held_out_share=o["held_out_share"],
            pool_size=o["pool_size"],
            per_problem_cap=o["per_problem_cap"],
            wrong_share=o["wrong_share"],
            annotators=o["annotators"],
            backbone=backbone,
            keep_layers=o["keep_layers"],
            max_length=o["max_length"],
            epochs=o["epochs"],
            feature_cache=cache,
            work_dir=str(work),
            label=o["label"],
            keep_checkpoints=o["keep_checkpoints"],
        )
        results = simulate(config, log=self._log, partial=self._write)
        md_path, json_path, image = self._write(results)
        self.stdout.write(f"Wrote {md_path}, {json_path} and {image}.")

    def _write(self, results: dict, command: str | None = None):
        o = self._options
        output = Path(o["output"])
        output.parent.mkdir(parents=True, exist_ok=True)
        json_path = output.with_name(output.name + ".json")
        md_path = output.with_name(output.name + ".md")
        results["command"] = command or self._command()
        if Path(o["report_only"] or "").resolve() != json_path.resolve():
            json_path.write_text(json.dumps(results, indent=2) + "\n")
        image = report.plot(results, o["plot"])
        try:
            relative = Path(image).resolve().relative_to(md_path.resolve().parent)
        except ValueError:
            relative = Path(image).resolve()
        report.write_markdown(
            md_path,
            report.markdown(
                results, results["command"], image=relative.as_posix(), raw=json_path.name
            ),
        )
        return md_path, json_path, image

    def _command(self) -> str:
        o = self._options
        if sys.argv[1:2] == ["simulate_active_learning"]:
            given = sys.argv[2:]
        else:  # called from code: the equivalent command line
            given = [
                f"--strategy={o['strategy']}",
                f"--rounds={o['rounds']}",
                f"--batch={o['batch']}",
                "--seed",
                *map(str, o["seed"]),
            ]
        if "--smoke" not in given:
            given = ["--smoke", *given]
        return "python manage.py simulate_active_learning " + shlex.join(given)

    def _log(self, message: str) -> None:
        self.stdout.write(message)
        self.stdout.flush()
