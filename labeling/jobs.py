"""Background export and import jobs: creating them, and the Celery tasks (queue `default`) that
run them. Job state, progress and errors live in `ExportJob` / `ImportJob` rows, which the API
and the data page read.

Imports are one transaction each (all or nothing), so progress written on the task's own
connection would stay invisible until the end; on PostgreSQL it is written through a second,
autocommitting connection instead. (SQLite, the demo, allows one writer: there progress shows
when the file is done.)
"""

import logging
import re
import shutil
import time
from pathlib import Path

from celery import shared_task
from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connection, connections, transaction
from django.utils import timezone

from labeling.errors import ApplicationError
from labeling.models import (
    ExportFormat,
    ExportJob,
    ImportJob,
    ImportKind,
    JobStatus,
    Project,
    User,
)

logger = logging.getLogger(__name__)

PROGRESS_INTERVAL_SECONDS = 0.5
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def jobs_dir() -> Path:
    return Path(settings.JOBS_DIR)


def safe_filename(name: str) -> str:
    name = _UNSAFE.sub("_", Path(name or "upload").name).strip("._") or "upload"
    return name[-200:]


# --- creating jobs ----------------------------------------------------------------------------


def export_job_create(
    *, user: User, project: Project, export_format: str, filters: dict
) -> ExportJob:
    """Queue an export; the filters are checked now, so a bad one is a 400, not a failed job."""
    from labeling.exports import FilterError, export_queryset

    try:
        export_queryset(project, filters)
    except FilterError as exc:
        raise ApplicationError(f"Invalid filters: {exc}") from None
    job = ExportJob.objects.create(
        created_by=user, project=project, format=export_format, filters=filters
    )
    transaction.on_commit(lambda: export_job_run.delay(job.pk))
    return job


def import_job_create(
    *, user: User, project: Project, kind: str, upload, generation: int | None = None
) -> ImportJob:
    """Keep the uploaded file under JOBS_DIR and queue its import."""
    if kind != ImportKind.SOLUTIONS and generation is not None:
        raise ApplicationError("generation: only solution imports go into a generation")
    if generation is not None and generation < -1:
        raise ApplicationError(f"generation: must be -1 or more, got {generation}")
    filename = safe_filename(upload.name)
    with transaction.atomic():
        job = ImportJob.objects.create(
            created_by=user,
            project=project,
            kind=kind,
            filename=filename,
            file="",
            generation=generation,
        )
        folder = jobs_dir() / "imports" / str(job.pk)
        folder.mkdir(parents=True, exist_ok=True)
        target = folder / filename
        with open(target, "wb") as out:
            for chunk in upload.chunks():
                out.write(chunk)
        job.file = str(target)
        job.save(update_fields=["file"])
    transaction.on_commit(lambda: import_job_run.delay(job.pk))
    return job


# --- progress ---------------------------------------------------------------------------------


class Progress:
    """`progress(n)`: record `n` items done, at most every PROGRESS_INTERVAL_SECONDS."""

    def __init__(self, model, pk: int, *, side_connection: bool):
        self.table = model._meta.db_table
        self.model = model
        self.pk = pk
        self.last = 0.0
        self.connection = None
        if side_connection and connection.vendor == "postgresql":
            self.connection = connections.create_connection(DEFAULT_DB_ALIAS)

    def __call__(self, done: int, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self.last < PROGRESS_INTERVAL_SECONDS:
            return
        self.last = now
        if self.connection is not None:
            with self.connection.cursor() as cursor:
                cursor.execute(
                    f"UPDATE {self.table} SET progress = %s WHERE id = %s", [done, self.pk]
                )
        elif not connection.in_atomic_block:
            self.model.objects.filter(pk=self.pk).update(progress=done)

    def close(self) -> None:
        if self.connection is not None:
            self.connection.close()


def _start(model, pk: int):
    """Mark a queued job running; None if it is not queued (a duplicate delivery)."""
    updated = model.objects.filter(pk=pk, status=JobStatus.QUEUED).update(
        status=JobStatus.RUNNING, started_at=timezone.now()
    )
    return model.objects.get(pk=pk) if updated else None


# --- exports ----------------------------------------------------------------------------------


@shared_task(soft_time_limit=4 * 3600, time_limit=4 * 3600 + 120)
def export_job_run(job_id: int) -> None:
    from labeling.exports import EXTENSIONS, export_queryset, write_export

    job = _start(ExportJob, job_id)
    if job is None:
        return
    progress = Progress(ExportJob, job.pk, side_connection=False)
    try:
        total = export_queryset(job.project, job.filters).count()
        ExportJob.objects.filter(pk=job.pk).update(total=total)
        folder = jobs_dir() / "exports"
        folder.mkdir(parents=True, exist_ok=True)
        extension = EXTENSIONS[ExportFormat(job.format)]
        path = (
            folder / f"export-{job.pk}-{safe_filename(job.project.name)}-{job.format}.{extension}"
        )
        rows = write_export(
            project=job.project,
            export_format=job.format,
            filters=job.filters,
            path=path,
            progress=progress,
        )
    except SoftTimeLimitExceeded:
        _fail(ExportJob, job.pk, "The export ran past its time limit.")
        raise
    except Exception as exc:
        logger.exception("export job %s failed", job.pk)
        _fail(ExportJob, job.pk, f"The export failed: {exc}")
        return
    ExportJob.objects.filter(pk=job.pk).update(
        status=JobStatus.DONE,
        progress=total,
        row_count=rows,
        file=str(path),
        finished_at=timezone.now(),
    )


def _fail(model, pk: int, error: str, errors: list[str] | None = None) -> None:
    fields = {"status": JobStatus.FAILED, "error": error, "finished_at": timezone.now()}
    if errors is not None:
        fields["errors"] = errors
    model.objects.filter(pk=pk).update(**fields)


# --- imports ----------------------------------------------------------------------------------


def count_records(path: Path) -> int | None:
    """Records in an import file, for the progress bar (None: a JSON array, not counted)."""
    if path.suffix.lower() == ".parquet":
        import pyarrow.parquet as pq

        try:
            return pq.ParquetFile(path).metadata.num_rows
        except Exception:
            return None
    with open(path, "rb") as handle:
        head = handle.read(4096)
        if head.lstrip().startswith(b"["):
            return None
        handle.seek(0)
        return sum(1 for line in handle if line.strip())


def _run_import_service(job: ImportJob, path: Path, progress) -> tuple[str, dict]:
    from labeling.services.prm800k import prm800k_import
    from labeling.services.problems import problems_import
    from labeling.services.solutions import solutions_import

    project_name = job.project.name
    if job.kind == ImportKind.PROBLEMS:
        result = problems_import(path=str(path), project_name=project_name, progress=progress)
    elif job.kind == ImportKind.SOLUTIONS:
        result = solutions_import(
            path=str(path),
            project_name=project_name,
            generation=job.generation,
            progress=progress,
        )
    else:
        with open(path, "rb") as stream:
            result = prm800k_import(
                stream=stream, name=job.filename, project_name=project_name, progress=progress
            )
    counts = {
        key: (sorted(value) if isinstance(value, set) else value)
        for key, value in vars(result).items()
    }
    return result.summary(), counts


@shared_task(soft_time_limit=4 * 3600, time_limit=4 * 3600 + 120)
def import_job_run(job_id: int) -> None:
    job = _start(ImportJob, job_id)
    if job is None:
        return
    path = Path(job.file)
    folder = str(path.parent) + "/"
    progress = Progress(ImportJob, job.pk, side_connection=True)
    try:
        if not path.is_file():
            raise ApplicationError(f"{job.filename}: the uploaded file is gone")
        total = count_records(path)
        ImportJob.objects.filter(pk=job.pk).update(total=total)
        summary, counts = _run_import_service(job, path, progress)
    except ApplicationError as exc:
        _fail(
            ImportJob,
            job.pk,
            exc.message.replace(folder, ""),
            [line.replace(folder, "") for line in exc.details],
        )
        return
    except SoftTimeLimitExceeded:
        _fail(ImportJob, job.pk, "The import ran past its time limit; nothing was imported.")
        raise
    except Exception as exc:
        logger.exception("import job %s failed", job.pk)
        _fail(ImportJob, job.pk, f"The import failed ({exc}); nothing was imported.")
        return
    finally:
        progress.close()
    ImportJob.objects.filter(pk=job.pk).update(
        status=JobStatus.DONE,
        progress=total if total is not None else counts.get("records", counts.get("lines", 0)),
        summary=summary,
        result=counts,
        finished_at=timezone.now(),
    )


def job_files_remove(job) -> None:
    """Delete a job's file(s) from disk."""
    if isinstance(job, ImportJob) and job.file:
        shutil.rmtree(Path(job.file).parent, ignore_errors=True)
    elif job.file:
        Path(job.file).unlink(missing_ok=True)
