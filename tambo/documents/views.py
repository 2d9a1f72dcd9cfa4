"""Public verification pages: look a document up by its code, or check a PDF file.

Nothing here needs an account, and nothing personal is shown: only the issuing agency,
the document type, the date and the document's public fields.
"""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods

from tambo.core.ratelimit import rate_limit
from tambo.core.upload_names import sent_path, traversal_message
from tambo.identity import policy

from .public import normalize_code, public_document
from .verify import by_code, check_pdf


@require_http_methods(["GET", "POST"])
@rate_limit("verify", methods=("GET", "POST"))
def verify_form(request: HttpRequest) -> HttpResponse:
    """GET ``?codigo=``: go to the code's page. POST a PDF (``archivo``): check it."""
    policy.require(request.user, "document.verify")
    errors: dict[str, str] = {}
    typed = ""
    result = None
    if request.method == "GET" and "codigo" in request.GET:
        typed = request.GET.get("codigo", "").strip()[:40]
        code = normalize_code(typed)
        if not typed:
            errors["codigo"] = _("Escriba el código de verificación impreso en el documento.")
        elif code is None:
            errors["codigo"] = _(
                "El código de verificación tiene 12 letras y números, por ejemplo ABCD-EFGH-JKMN."
            )
        else:
            return redirect("documents:document", code=code)
    elif request.method == "POST":
        upload = request.FILES.get("archivo")
        limit = settings.TAMBO_MAX_FILE_BYTES
        if upload is None or upload.size == 0:
            errors["archivo"] = _("Elija el archivo PDF que quiere comprobar.")
        elif sent_path(upload) is not None:
            errors["archivo"] = traversal_message()
        elif upload.size > limit:
            errors["archivo"] = _("El archivo supera el máximo de %(mb)s MB.") % {
                "mb": limit // (1024 * 1024)
            }
        else:
            result = check_pdf(upload.read(limit + 1))
    return render(
        request,
        "documents/verify.html",
        {
            "errors": errors,
            "typed_code": typed,
            "result": result,
            "doc": result.public if result is not None else None,
            "max_mb": settings.TAMBO_MAX_FILE_BYTES // (1024 * 1024),
        },
        status=422 if errors else 200,
    )


@require_GET
@rate_limit("verify", methods=("GET",))
def document(request: HttpRequest, code: str) -> HttpResponse:
    """What the register says about a verification code (404 if there is no such document)."""
    policy.require(request.user, "document.verify")
    found = by_code(code)
    return render(
        request,
        "documents/document.html",
        {"doc": public_document(found) if found is not None else None, "code": code[:40]},
        status=200 if found is not None else 404,
    )
