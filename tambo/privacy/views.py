"""The citizen's account pages about their data: who read it, a copy of it, corrections."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import FileResponse, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from tambo.core.errors import DomainError, ValidationFailed

from . import actions, queries
from .export import build_archive


@login_required
@require_GET
def accesses(request: HttpRequest) -> HttpResponse:
    """«Quién vio mis datos»: every reading of the citizen's data by someone else."""
    error = ""
    try:
        rows, next_cursor = queries.access_page(
            request.user, queries.parse_cursor(request.GET.get("antes"))
        )
    except DomainError as exc:
        rows, next_cursor, error = [], None, exc.message
    return render(
        request,
        "privacy/accesses.html",
        {"entries": rows, "next_cursor": next_cursor, "error": error},
        status=400 if error else 200,
    )


@login_required
@require_http_methods(["GET", "POST"])
def my_data(request: HttpRequest) -> HttpResponse:
    """Download a copy of the data, ask for a correction, follow the requests."""
    errors: dict[str, str] = {}
    values = {"text": "", "filing": ""}
    if request.method == "POST":
        values = {"text": request.POST.get("text", ""), "filing": request.POST.get("filing", "")}
        try:
            actions.request_correction(request.user, values["text"], values["filing"])
        except ValidationFailed as exc:
            errors = exc.errors
        else:
            messages.success(
                request, _("Recibimos su solicitud de rectificación. Le responderemos aquí.")
            )
            return redirect("privacy:my_data")
    return render(
        request,
        "privacy/my_data.html",
        {"errors": errors, "values": values, "corrections": queries.my_corrections(request.user)},
        status=422 if errors else 200,
    )


@login_required
@require_POST
def download(request: HttpRequest) -> FileResponse:
    """The ZIP with data.json and the citizen's documents (POST: it writes an audit entry)."""
    archive = build_archive(request.user)
    return FileResponse(
        archive,
        as_attachment=True,
        filename=f"mis-datos-{request.user.username}.zip",
        content_type="application/zip",
    )
