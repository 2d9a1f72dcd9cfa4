"""The audit log in the admin: read-only, as it is append-only everywhere."""

from django.contrib import admin

from .admin_base import ReadOnlyAdmin
from .models import AuditEntry


@admin.register(AuditEntry)
class AuditEntryAdmin(ReadOnlyAdmin):
    list_display = ("id", "at", "action", "object_type", "object_id", "actor_label", "agency_code")
    list_filter = ("action", "object_type", "agency_code")
    search_fields = ("object_id", "actor_label")
    readonly_fields = [f.name for f in AuditEntry._meta.fields]
