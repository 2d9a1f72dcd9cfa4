"""The data services this code base can provide, by registry code.

Each takes the validated query and returns the answer (validated again against the
registry's response schema before it is signed). They read only what the answer needs.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tambo.cases.queries import approved_filings_of

Handler = Callable[[str, dict[str, Any]], dict[str, Any]]


def operating_licences(owner: str, query: dict[str, Any]) -> dict[str, Any]:
    """A municipality's register of operating licences held by a person or company."""
    rows = approved_filings_of(
        owner, query["document_type"], query["document_number"], procedure_prefix="LF-"
    )
    return {
        "holder": {
            "document_type": query["document_type"],
            "document_number": query["document_number"],
        },
        "licences": [
            {
                "number": row.number,
                "procedure": row.procedure,
                "approved_on": row.decided_at.date().isoformat() if row.decided_at else None,
            }
            for row in rows
        ],
    }


HANDLERS: dict[str, Handler] = {
    "licencias-funcionamiento": operating_licences,
}
