"""GET /api/: where everything in the API is, as links (a client or a person starts here)."""

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.reverse import reverse
from rest_framework.views import APIView

# name in the answer -> URL name; every list and entry point of the API
ENDPOINTS = {
    "docs": "api-docs",
    "redoc": "api-redoc",
    "schema": "api-schema",
    "token": "api-token-obtain",
    "tokens": "api-token-list",
    "projects": "api-projects",
    "problems": "api-problem-list",
    "solutions": "api-solution-list",
    "generations": "api-generation-list",
    "labelings": "api-labeling-list",
    "model_versions": "api-model-version-list",
    "exports": "api-export-list",
    "imports": "api-import-list",
    "next_assignment": "api-assignment-next",
}


class ApiRootView(APIView):
    """The API's entry points. Authenticate with `Authorization: Token KEY` (a named token from
    /account/tokens/ or POST /api/auth/token/) or a logged-in browser session."""

    permission_classes = [AllowAny]

    @extend_schema(
        summary="Where everything is",
        responses=inline_serializer(
            "ApiRoot", {name: serializers.URLField() for name in ENDPOINTS}
        ),
    )
    def get(self, request):
        return Response({name: reverse(url, request=request) for name, url in ENDPOINTS.items()})
