"""The register of issued documents in the Django admin: read-only (rows are written by actions)."""

from django.contrib import admin

from .models import IssuedDocument


@admin.register(IssuedDocument)
class IssuedDocumentAdmin(admin.ModelAdmin):
    list_display = ("code", "kind", "agency", "subject_type", "subject_id", "issued_at")
    list_filter = ("kind", "agency")
    search_fields = ("code", "subject_id", "sha256")
    date_hierarchy = "issued_at"

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
