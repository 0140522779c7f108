from django.core.management.base import BaseCommand, CommandError

from labeling.models import Project


class Command(BaseCommand):
    help = (
        "Answer phase-1 requests for proposed next steps that are still pending (docs/phase1.md): "
        "sample each with the project's generator here and store the steps, or mark the request "
        "failed with the reason. --queue sends them to a `gpu` worker instead. Safe to run while "
        "workers run: a request answered meanwhile is left alone."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--older-than",
            type=float,
            default=0,
            help="only requests pending at least this many seconds (default 0: all)",
        )
        parser.add_argument("--project", help="project name (default: every project)")
        parser.add_argument("--limit", type=int, default=100, help="at most this many requests")
        parser.add_argument("--queue", action="store_true", help="send them to a `gpu` worker")

    def handle(self, *args, **opts):
        from active_learning.phase1 import next_steps_enqueue, stale_requests

        if opts["older_than"] < 0 or opts["limit"] < 1:
            raise CommandError("--older-than must be >= 0 and --limit >= 1")
        project_id = None
        if opts["project"]:
            project_id = (
                Project.objects.filter(name=opts["project"]).values_list("pk", flat=True).first()
            )
            if project_id is None:
                raise CommandError(f"No project named {opts['project']!r}.")
        rows = list(
            stale_requests(older_than=opts["older_than"], project_id=project_id).values_list(
                "pk", "project_id", "requested"
            )[: opts["limit"]]
        )
        if opts["queue"]:
            sent = sum(next_steps_enqueue(p, alternatives_id=pk, k=k) for pk, p, k in rows)
            self.stdout.write(f"{sent} of {len(rows)} pending request(s) sent to the gpu queue")
            if sent < len(rows):
                raise CommandError("the broker could not be reached for some requests")
            return
        from active_learning.generator.phase1 import next_steps_answer  # torch: only here

        outcomes: dict[str, int] = {}
        for pk, _project, _k in rows:
            status = next_steps_answer(pk)
            outcomes[status] = outcomes.get(status, 0) + 1
            self.stdout.write(f"request {pk}: {status}")
        summary = ", ".join(f"{n} {status}" for status, n in sorted(outcomes.items()))
        tail = f": {summary}" if rows else ""
        self.stdout.write(f"{len(rows)} pending request(s) answered{tail}")
