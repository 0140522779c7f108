"""Logging filters named in settings.LOGGING.

`ClientErrorOneLine`: Django's `django.request` logger logs a refused or missing page (403,
404) as a warning *with the exception's traceback* (`django.utils.log.log_response` passes
`exc_info`). An annotator opening a lead's page is ordinary, not a fault: without this filter
the demo's terminal, which shows tracebacks, filled with headerless ones (issue 14). Records
for statuses below 500 keep their one-line message and lose the traceback; 5xx keep theirs.
"""

import logging


class ClientErrorOneLine(logging.Filter):
    """Strip the traceback from `django.request` records of 4xx responses (the record's
    `status_code`, which log_response sets); every record passes."""

    def filter(self, record: logging.LogRecord) -> bool:
        status = getattr(record, "status_code", None)
        if isinstance(status, int) and status < 500:
            record.exc_info = None
            record.exc_text = None
        return True
