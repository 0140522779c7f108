"""The broker connection Celery uses, with one repair: a worker survives a Redis restart while it
holds an unacknowledged message.

Root cause (reproduced with celery 5.7.0 + kombu 5.7.0 and redis-py 8; celery 5.6.3 does not
crash, with either kombu): when the broker connection drops, celery 5.7's
`Consumer.on_connection_error_after_connected` first calls `connection.collect()` and then, new
in 5.7, `connection.close()`. kombu's `collect()` closes the default channel, but the Redis
channel's `close()` raises a `ConnectionError` while reading its pending BRPOP (Redis is gone)
*before* it marks itself closed or restores its unacknowledged messages; `collect()` swallows
that error and detaches the transport (`transport.client = None`) while still holding the
half-closed channel. `close()` then closes that channel a second time; now it gets as far as
restoring the unacknowledged messages, which needs a Redis client built from
`transport.client.hostname`: `AttributeError: 'NoneType' object has no attribute 'hostname'`.
That is not a connection error, so nothing catches it and the worker exits ("Unrecoverable
error"). It only happens when the channel holds an unacknowledged message, which under load is
always: every submit queues a statistics refresh with a countdown (held by the worker until
due), and every task is acknowledged late.

The repair: `collect()` also forgets the default channel it has just torn down, so the second
`close()` has nothing left to close (exactly the state celery 5.6 left it in). The messages the
worker held stay in Redis's unacknowledged set and are redelivered after the visibility timeout
(docs/operators.md, "Redis restarts"); a message whose task was running finishes and is
acknowledged through a fresh client, as before.

Remove this when celery or kombu fixes the double close (tests/config/test_broker.py restarts a
real Redis under a real worker and fails without it).
"""

from celery.app.amqp import AMQP
from kombu import Connection


class BrokerConnection(Connection):
    """kombu's `Connection` whose `collect()` leaves no half-closed default channel behind."""

    def collect(self, socket_timeout=None):
        try:
            super().collect(socket_timeout=socket_timeout)
        finally:
            # The channel was closed as far as a dead broker allows; closing it again after
            # the transport is detached is what crashed the worker (module docstring).
            self._default_channel = None


class BrokerAMQP(AMQP):
    """Celery's messaging glue with `BrokerConnection` for every connection it opens."""

    Connection = BrokerConnection
