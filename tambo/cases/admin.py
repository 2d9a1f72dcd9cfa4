"""Supervisors see expedientes in the admin; changes go through actions, so it is read-only here."""

from django.contrib import admin

from tambo.core.admin_base import ReadOnlyAdmin

from .models import Document, Filing


class DocumentInline(admin.TabularInline):
    model = Document
    fields = ("field_name", "original_name", "media_type", "size", "sha256", "uploaded_at")
    readonly_fields = fields
    extra = 0
    can_delete = False


@admin.register(Filing)
class FilingAdmin(ReadOnlyAdmin):
    list_display = (
        "number",
        "agency",
        "unit",
        "status",
        "assignee",
        "received_on",
        "due_on",
        "fee",
    )
    list_filter = ("agency", "status", "is_open", "term_running")
    search_fields = ("number",)
    inlines = [DocumentInline]
