import json
import os
import shlex
import sys
import time
from pathlib import Path

from django.conf import settings
from django.core.management.base import CommandError

from active_learning.experiments import analysis, arms, design, learner, plots, report
from active_learning.experiments import pools as experiment_pools
from active_learning.management.commands._simulate_smoke import SmokeCommand

DOC = "docs/active-learning-simulation.md"


class Command(SmokeCommand):
    help = (
        "The active-learning experiment (issue 12): uniform, convincing_wrong, wrong_random and "
        "oracle selection, iterative and one-shot, on frozen-backbone features computed once "
        "and cached under var/; many seeds in minutes. Writes the results (JSON), the plot and "
        f"the page {DOC}. --smoke runs the old end-to-end REST simulation instead."
    )

    def add_arguments(self, parser):
        super().add_arguments(parser)
        parser.add_argument(
            "--smoke",
            action="store_true",
            help="the REST smoke mode: simulated annotators through the API, the real loop",
        )
        parser.add_argument("--seeds", type=int, default=20, help="seeds per arm (default 20)")
        parser.add_argument("--first-seed", type=int, default=0)
        parser.add_argument("--seed-batch", type=int, default=40)
        parser.add_argument(
            "--arms",
            nargs="+",
            default=list(design.ARMS),
            choices=[*design.ARMS, *design.OPTIONAL_ARMS],
        )
        parser.add_argument("--forms", nargs="+", default=list(design.FORMS), choices=design.FORMS)
        parser.add_argument(
            "--pools",
            nargs="+",
            default=["processbench", "prm800k"],
            choices=["processbench", "prm800k"],
        )
        parser.add_argument("--prm800k-problems", type=int, default=50)
        parser.add_argument("--prm800k-candidates", type=int, default=12)
        parser.add_argument(
            "--truncated-policy", default="last", choices=["last", "exclude", "ignore"]
        )
        parser.add_argument(
            "--regularization", type=float, default=0.05, help="inverse L2 strength of the head"
        )
        parser.add_argument(
            "--pca-dims", type=int, default=64, help="project step features (0: keep all)"
        )
        parser.add_argument(
            "--note", default="", help="a remark shown on the page (e.g. the machine's load)"
        )
        parser.add_argument(
            "--reduced-note",
            default="",
            help="a sentence saying how this run differs from the default (shown on the page)",
        )

    def handle(self, *args, **o):
        if o["smoke"]:
            return super().handle(*args, **o)
        if o["report_only"]:
            try:
                results = json.loads(Path(o["report_only"]).read_text())
            except (OSError, ValueError) as exc:
                raise CommandError(f"{o['report_only']}: cannot read it ({exc})") from None
            if not isinstance(results, dict) or "experiment" not in results:
                raise CommandError(f"{o['report_only']}: not an experiment results file")
            if o["note"]:  # a remark added afterwards (e.g. a sensitivity run)
                results["note"] = o["note"]
            self._write_page(results, o)
            return
        started = time.monotonic()
        rounds = 5 if o["rounds"] is None else o["rounds"]
        batch = 40 if o["batch"] is None else o["batch"]
        if rounds < 1 or batch < 1 or o["seeds"] < 2 or o["seed_batch"] < 1:
            raise CommandError("--rounds, --batch and --seed-batch >= 1; --seeds >= 2")
        # --pool-size (defined with the smoke mode's options): here, a seeded sample of this
        # many solutions of each seed's selection pool; unset: all of it
        if (o["pool_size"] or 0) < 0:
            raise CommandError("--pool-size >= 0")
        config = design.Config(
            seeds=o["seeds"],
            first_seed=o["first_seed"],
            seed_batch=o["seed_batch"],
            batch=batch,
            rounds=rounds,
            wrong_share=o["wrong_share"],
            per_problem_cap=o["per_problem_cap"],
            arms=tuple(o["arms"]),
            forms=tuple(o["forms"]),
            truncated_policy=o["truncated_policy"],
            regularization=o["regularization"],
            pca_dims=o["pca_dims"],
            pool_size=o["pool_size"] or 0,
        )
        backbone = o["backbone"] or "smollm2"
        keep_layers = 4 if o["keep_layers"] is None else o["keep_layers"]
        max_length = 1536 if o["max_length"] is None else o["max_length"]
        var = Path(settings.VAR_DIR)
        cache = Path(o["feature_cache"] or var / "cache" / "experiment-features.pt")
        data_dir = experiment_pools.SHARED_DATA
        pools, facts = {}, {}
        for name in o["pools"]:
            if name == "processbench":
                path = Path(o["data"][0]) if o["data"] else data_dir / "processbench_math.json"
                items = experiment_pools.processbench_items(path)
            else:
                items = experiment_pools.prm800k_items(
                    data_dir / "prm800k_phase1_train_stepwise.parquet",
                    problems=o["prm800k_problems"],
                    per_problem=o["prm800k_candidates"],
                )
            self._log(f"{name}: {len(items)} candidates; features (cached in {cache})")
            facts[name] = experiment_pools.featurize(
                items,
                backbone=backbone,
                keep_layers=keep_layers,
                max_length=max_length,
                cache_path=cache,
                backbone_cache=var / "cache" / "backbones",
                log=self._log,
            )
            facts[name].update(
                problems=len({i.problem for i in items}),
                with_error=sum(i.has_error for i in items),
                graded=sum(i.final_correct is not None for i in items),
                graded_wrong=sum(i.final_correct is False for i in items),
            )
            self._log(f"{name}: {facts[name]}")
            pools[name] = learner.Data.from_items(items)
        features_seconds = time.monotonic() - started
        rows = arms.run(pools, config, log=self._log)
        results = {
            "experiment": True,
            "config": config.__dict__,
            "backbone": backbone,
            "keep_layers": keep_layers,
            "max_length": max_length,
            "pools": facts,
            "rows": rows,
            "seconds": {
                "features": round(features_seconds, 1),
                "experiment": round(time.monotonic() - started - features_seconds, 1),
                "total": round(time.monotonic() - started, 1),
            },
            "load_average": os.getloadavg(),
            "cpus": os.cpu_count(),
            "command": self._experiment_command(),
            "reduced_note": o["reduced_note"],
            "note": o["note"],
            "verdict": analysis.verdict(rows),
        }
        self._write_page(results, o)

    def _write_page(self, results: dict, o: dict) -> None:
        output = Path(o["output"] or DOC.removesuffix(".md"))
        image = Path(o["plot"] or "docs/img/active-learning-simulation.png")
        output.parent.mkdir(parents=True, exist_ok=True)
        json_path = output.with_name(output.name + ".json")
        md_path = output.with_name(output.name + ".md")
        # written on --report-only too (already read; a --note may have been added)
        results["rows"] = [
            {k: round(v, 5) if isinstance(v, float) else v for k, v in row.items()}
            for row in results["rows"]
        ]
        json_path.write_text(json.dumps(results, separators=(",", ":"), default=float) + "\n")
        plots.plot(results["rows"], image)
        try:
            relative = image.resolve().relative_to(md_path.resolve().parent)
        except ValueError:
            relative = image.resolve()
        md_path.write_text(report.page(results, image=relative.as_posix(), raw=json_path.name))
        self.stdout.write(f"Wrote {md_path}, {json_path} and {image}.")

    def _experiment_command(self) -> str:
        if sys.argv[1:2] == ["simulate_active_learning"]:
            return "python manage.py simulate_active_learning " + shlex.join(sys.argv[2:])
        return "python manage.py simulate_active_learning (called from code)"
