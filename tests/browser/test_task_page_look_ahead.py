"""The task page's look-ahead (issue 13's breaker): the next task fetched while the current one
is finished holds its slot only briefly until the page opens it, so a tab closed with a
look-ahead blocks nobody for the project's full lease."""

import time
from datetime import timedelta

from django.utils import timezone
from playwright.sync_api import expect

from labeling.models import Labeling, LabelingStatus
from labeling.services.leases import LOOK_AHEAD_LEASE
from tests.browser.conftest import log_in, start_task, step


def wait_for(condition, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = condition()
        if found:
            return found
        time.sleep(0.1)
    raise AssertionError("timed out")


def test_the_prefetched_task_holds_a_short_lease_until_it_is_opened(page, task_setup):
    """Catches the look-ahead holding the project's full lease (30 minutes) from the moment it
    was prefetched: it held an overlap slot 10 minutes after its tab closed."""
    annotator, second = task_setup["annotator"], task_setup["second"]
    log_in(page)
    start_task(page)
    page.keyboard.press("1")  # a Negative first step finishes the labeling: the page prefetches

    def look_ahead():
        return Labeling.objects.filter(
            labeler=annotator, solution=second, status=LabelingStatus.DRAFT
        ).first()

    ahead = wait_for(look_ahead)
    assert ahead.lease_expires_at - timezone.now() <= LOOK_AHEAD_LEASE
    page.keyboard.press("Enter")  # submit: the look-ahead is swapped in and opened
    expect(step(page, 0)).to_contain_text("It is", timeout=10000)
    full = timedelta(minutes=task_setup["project"].lease_minutes - 1)
    wait_for(lambda: look_ahead().lease_expires_at - timezone.now() > full)
