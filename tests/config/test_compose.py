"""docker-compose.yml, the production shape: what its health checks and restart policies
promise (issue 13: "the compose health check (/healthz without queues) stays green" while the
only default worker is dead)."""

import re

import yaml

from tests.conftest import ROOT


def _compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def test_the_web_health_check_fails_while_a_queue_has_no_worker(client):
    """Catches: a health check that stays green with no worker on a queue (the old one asked
    `/healthz` without queues). The test process runs no worker, so the check's own URL must
    answer 503 here."""
    check = " ".join(_compose()["services"]["web"]["healthcheck"]["test"])
    url = re.search(r"http://127\.0\.0\.1:8000(/healthz[^'\"]*)", check).group(1)
    assert "default" in url and "gpu" in url
    response = client.get(url)
    assert response.status_code == 503
    assert set(response.json()["queues_without_workers"]) == {"default", "gpu"}


def test_every_long_running_service_is_restarted_by_compose_when_it_exits():
    """The supervisor: a worker (or web, or beat) that exits for any reason is started again."""
    services = _compose()["services"]
    for name in ("web", "worker-default", "worker-gpu", "beat"):
        assert services[name]["restart"] == "unless-stopped", name
    for name in ("worker-default", "worker-gpu"):
        assert "ping" in " ".join(services[name]["healthcheck"]["test"]), name
