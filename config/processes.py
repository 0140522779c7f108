"""Child processes of the demo supervisor (`manage.py rundemo`): each in its own session, so
that Ctrl-C reaches only the supervisor (which stops them in order: web, workers, broker), and
each stopped by Linux if the supervisor is killed outright."""

import ctypes
import os
import signal
import sys

PR_SET_PDEATHSIG = 1  # prctl(2): the signal a child gets when its parent dies


def die_with_parent() -> None:
    """`preexec_fn` of a child: a session of its own, and SIGTERM when the parent dies."""
    os.setsid()
    if sys.platform.startswith("linux"):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
