"""The one application error type that services raise, and the one table of what it means in
HTTP. The edges turn it into a response (labeling/error_edges.py: the DRF exception handler and
the HTML middleware) or a command error (labeling/management/commands/_base.py); none of them
decides a status on its own, so the same state gives the same status everywhere."""


class ApplicationError(Exception):
    """Bad input or a rule the request breaks: 400, `{"detail": message, "errors": details}`."""

    def __init__(self, message: str, *, details: list[str] | None = None):
        super().__init__(message)
        self.message = message
        self.details = details or []

    def __str__(self) -> str:
        if not self.details:
            return self.message
        return "\n".join([self.message, *self.details])


class NotFound(ApplicationError):
    """The object does not exist or is not the caller's (the edge answers 404 either way)."""


class Conflict(ApplicationError):
    """The request cannot apply to the object's current state (the edge answers 409), e.g. an
    export that is still running (its download and its deletion alike). `data`, when set, is
    merged into the answer's body (a stale draft carries the stored one)."""


def http_status(error: ApplicationError) -> int:
    """The HTTP status of an application error: 404 NotFound, 409 Conflict, 400 otherwise."""
    if isinstance(error, NotFound):
        return 404
    if isinstance(error, Conflict):
        return 409
    return 400


def error_body(error: ApplicationError) -> dict:
    """The JSON body of an application error: `{"detail": str, "errors": [str, ...]}` plus a
    Conflict's `data` (e.g. `draft` for a stale draft save)."""
    return {"detail": error.message, "errors": error.details, **getattr(error, "data", {})}
