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
