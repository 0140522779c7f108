"""The API's one pagination (REST_FRAMEWORK["DEFAULT_PAGINATION_CLASS"]): DRF's page-number
pagination, `?page=N&page_size=M`, with every bad value refused instead of ignored.

- `page_size`: a whole number from 1 to MAX_PAGE_SIZE (default PAGE_SIZE when absent or
  empty); anything else (`-1`, `0`, `abc`, `1001`) is a 400 `{"page_size": [...]}`. (DRF
  silently used the default page size for a bad one and cut one above the maximum to it.)
- `page`: a whole number from 1 (absent or empty: 1; `last`: the last page, as DRF); `0`,
  `-1`, `abc` are a 400 `{"page": [...]}`, and so is a page past the last one (DRF's 404
  "Invalid page."): one rule for every bad paging value. Page 1 of an empty list is an empty
  page, not an error.
"""

from rest_framework.exceptions import ValidationError
from rest_framework.pagination import PageNumberPagination

PAGE_SIZE = 100
MAX_PAGE_SIZE = 1000


def _whole_number(raw: str) -> int | None:
    """`raw` as an int when it is written as a whole number of decimal digits, else None."""
    if not raw.isascii() or not raw.isdigit() or len(raw) > 20:
        return None
    return int(raw)


class Pagination(PageNumberPagination):
    """PageNumberPagination with `page_size` (1..MAX_PAGE_SIZE) and checked values: raises
    ValidationError (400 naming `page` or `page_size`) for a bad one (see the module)."""

    page_size = PAGE_SIZE
    page_size_query_param = "page_size"
    max_page_size = MAX_PAGE_SIZE

    def get_page_size(self, request) -> int:
        raw = request.query_params.get(self.page_size_query_param, "")
        if raw == "":
            return self.page_size
        size = _whole_number(raw)
        if size is None or not 1 <= size <= self.max_page_size:
            raise ValidationError(
                {
                    self.page_size_query_param: [
                        f"Expected a whole number from 1 to {self.max_page_size}."
                    ]
                }
            )
        return size

    def get_page_number(self, request, paginator):
        raw = request.query_params.get(self.page_query_param, "")
        if raw == "":
            return 1
        if raw in self.last_page_strings:
            return paginator.num_pages
        number = _whole_number(raw)
        if number is None or number < 1:
            raise ValidationError(
                {self.page_query_param: ["Expected a whole number from 1 (or `last`)."]}
            )
        if number > paginator.num_pages:
            raise ValidationError(
                {
                    self.page_query_param: [
                        f"Page {number} is past the last page, {paginator.num_pages}."
                    ]
                }
            )
        return number
