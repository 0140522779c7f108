"""Is the background machinery up? The database, the broker, and which Celery workers (and
queues) answered recently. Read by `/healthz`, the lead pages ("background jobs paused") and the
compose healthchecks. Every check is bounded by a short timeout, so a dead Redis makes a page a
fraction of a second slower, never hang."""

import threading
import time

from django.db import connection

BROKER_TIMEOUT_SECONDS = 1.0
PING_TIMEOUT_SECONDS = 1.0
BROKER_STATUS_TTL = 10.0  # seconds a process reuses its last broker check (pages call it often)
WORKERS_SEEN_TTL = 300.0  # a worker that answered within this many seconds counts as seen

_lock = threading.Lock()
_broker: dict = {"checked": 0.0, "ok": None, "error": ""}
_workers: dict[str, dict] = {}  # name -> {"seen": monotonic time, "queues": [...]}


def database_status() -> tuple[bool, str]:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        return True, ""
    except Exception as exc:
        return False, f"{type(exc).__name__}: {exc}"


def broker_status(*, fresh: bool = False) -> tuple[bool, str]:
    """(reachable, error); cached for BROKER_STATUS_TTL seconds per process."""
    now = time.monotonic()
    with _lock:
        if not fresh and _broker["ok"] is not None and now - _broker["checked"] < BROKER_STATUS_TTL:
            return _broker["ok"], _broker["error"]
    from config.celery import app

    try:
        with app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, interval_start=0, timeout=BROKER_TIMEOUT_SECONDS)
        ok, error = True, ""
    except Exception as exc:
        ok, error = False, f"{type(exc).__name__}: {exc}"
    with _lock:
        _broker.update(checked=time.monotonic(), ok=ok, error=error)
    return ok, error


def broker_available() -> bool:
    return broker_status()[0]


def workers_status() -> list[dict]:
    """Workers that answered a ping now or within WORKERS_SEEN_TTL seconds, with their queues."""
    from config.celery import app

    now = time.monotonic()
    try:
        inspector = app.control.inspect(timeout=PING_TIMEOUT_SECONDS)
        answers = inspector.active_queues() or {}
    except Exception:
        answers = {}
    with _lock:
        for name, queues in answers.items():
            _workers[name] = {"seen": now, "queues": sorted(q["name"] for q in queues or [])}
        for name in [n for n, w in _workers.items() if now - w["seen"] > WORKERS_SEEN_TTL]:
            del _workers[name]
        return [
            {
                "name": name,
                "queues": w["queues"],
                "seconds_since_seen": round(now - w["seen"], 1),
                "answered_now": name in answers,
            }
            for name, w in sorted(_workers.items())
        ]


def health_report(require_queues: list[str] | None = None) -> tuple[bool, dict]:
    """(healthy, report). Healthy: the database and the broker answer, and every queue in
    `require_queues` has a worker seen recently."""
    db_ok, db_error = database_status()
    broker_ok, broker_error = broker_status(fresh=True)
    workers = workers_status() if broker_ok else []
    served = {queue for worker in workers for queue in worker["queues"]}
    missing = sorted(set(require_queues or []) - served)
    report = {
        "database": {"ok": db_ok, **({"error": db_error} if db_error else {})},
        "broker": {"ok": broker_ok, **({"error": broker_error} if broker_error else {})},
        "workers": workers,
        "queues_without_workers": missing,
    }
    healthy = db_ok and broker_ok and not missing
    report["status"] = "ok" if healthy else "unhealthy"
    return healthy, report
