"""Oversight of the access log (read-only) and the processing of correction requests."""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.utils.translation import gettext as _

from tambo.core.admin_base import ReadOnlyAdmin

from . import actions
from .models import AccessEntry, Consent, CorrectionRequest, CorrectionStatus


class CorrectionAnswerForm(forms.ModelForm):
    """The same checks as the action, so that a wrong answer is a field error, not a 500."""

    class Meta:
        model = CorrectionRequest
        fields = ("status", "response")

    def clean(self):  # type: ignore[no-untyped-def]
        data = super().clean()
        if data.get("status") not in {CorrectionStatus.DONE, CorrectionStatus.REJECTED}:
            self.add_error("status", _("Elija «Corregido» o «Denegado»."))
        if not (data.get("response") or "").strip():
            self.add_error("response", _("Escriba la respuesta para el ciudadano."))
        return data


@admin.register(AccessEntry)
class AccessEntryAdmin(ReadOnlyAdmin):
    list_display = (
        "at",
        "accessor_label",
        "agency_code",
        "category",
        "filing_number",
        "citizen",
        "withheld_until",
    )
    list_filter = ("agency_code", "category", ("withheld_until", admin.EmptyFieldListFilter))
    search_fields = ("filing_number", "accessor_label")
    readonly_fields = [f.name for f in AccessEntry._meta.fields]


@admin.register(Consent)
class ConsentAdmin(ReadOnlyAdmin):
    list_display = ("filing", "citizen", "given_at", "text_sha256")
    readonly_fields = [f.name for f in Consent._meta.fields]


@admin.register(CorrectionRequest)
class CorrectionRequestAdmin(admin.ModelAdmin):
    """Officials answer here; saving goes through the action (policy + audit entry)."""

    form = CorrectionAnswerForm
    list_display = ("created_at", "citizen", "filing_number", "status", "resolved_at")
    list_filter = ("status",)
    fields = ("citizen", "filing_number", "text", "created_at", "status", "response")
    readonly_fields = ("citizen", "filing_number", "text", "created_at")

    def has_add_permission(self, request):  # type: ignore[no-untyped-def]
        return False

    def has_delete_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False

    def save_model(self, request, obj, form, change):  # type: ignore[no-untyped-def]
        actions.resolve_correction(request.user, obj.pk, obj.status, obj.response)
