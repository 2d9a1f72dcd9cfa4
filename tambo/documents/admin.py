"""The register of issued documents in the Django admin: read-only (rows are written by actions)."""

from django.contrib import admin

from tambo.core.admin_base import ReadOnlyAdmin

from .models import IssuedDocument


@admin.register(IssuedDocument)
class IssuedDocumentAdmin(ReadOnlyAdmin):
    list_display = ("code", "kind", "agency", "subject_type", "subject_id", "issued_at")
    list_filter = ("kind", "agency")
    search_fields = ("code", "subject_id", "sha256")
    date_hierarchy = "issued_at"
