"""The checks labeling/services/drafts.py shares with the submit and with phase 1
(`time_grown`, `check_draft`); the save itself is covered through the API
(tests/labeling/api/test_draft_revisions.py, test_hot_path_queries.py)."""

from datetime import timedelta

import pytest
from django.utils import timezone

from labeling.errors import ApplicationError, Conflict
from labeling.models import LabelingStatus
from labeling.services.drafts import (
    LEASE_EXPIRED,
    MAX_TOTAL_TIME_MS,
    check_draft,
    time_grown,
)


def test_time_only_grows():
    """Would catch a late or repeated save taking time away (a retried save sent earlier)."""
    assert time_grown(5_000, 9_000) == 9_000
    assert time_grown(12_000, 9_000) == 12_000
    assert time_grown(0, None) == 0
    assert time_grown(None, 9_000) == 9_000  # not given: kept


@pytest.mark.parametrize("value", [-1, MAX_TOTAL_TIME_MS + 1, 1.5, "10", True])
def test_time_that_is_not_whole_milliseconds_in_range_is_refused(value):
    """Would catch a negative, fractional, textual or boolean time (True is an int in Python)
    or one over a week being stored."""
    with pytest.raises(ApplicationError, match="total_time_ms"):
        time_grown(value, 0)


def test_time_at_the_bound_is_accepted():
    assert time_grown(MAX_TOTAL_TIME_MS, 0) == MAX_TOTAL_TIME_MS


def test_only_a_draft_with_a_live_hold_may_change():
    """Would catch a submitted labeling, or a draft whose hold has expired (another annotator
    may hold it now), still taking ratings."""
    now = timezone.now()
    check_draft(LabelingStatus.DRAFT, None, now)
    check_draft(LabelingStatus.DRAFT, now + timedelta(seconds=1), now)
    with pytest.raises(Conflict, match="submitted"):
        check_draft(LabelingStatus.SUBMITTED, None, now)
    with pytest.raises(Conflict) as raised:
        check_draft(LabelingStatus.DRAFT, now, now)  # expires exactly now: expired
    assert raised.value.message == LEASE_EXPIRED
