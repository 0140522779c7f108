"""The one application error type that services raise; the edges turn it into a 400, a form error
or a command error."""


class ApplicationError(Exception):
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
    """The request cannot apply to the object's current state (the edge answers 409)."""
