from typing import Any

from rest_framework import pagination


class CursorPagination(pagination.CursorPagination):
    """`{"next": url | null, "results": [...]}` ordered by id: stable and fast at any depth."""

    ordering = "-id"
    page_size_query_param = "page_size"
    max_page_size = 1000

    def get_paginated_response(self, data: Any) -> Any:
        from rest_framework.response import Response

        return Response({"next": self.get_next_link(), "results": data})

    def get_paginated_response_schema(self, schema: Any) -> Any:
        return {
            "type": "object",
            "required": ["next", "results"],
            "properties": {
                "next": {"type": "string", "nullable": True, "format": "uri"},
                "results": schema,
            },
        }
