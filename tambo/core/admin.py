"""The audit log in the admin: read-only, as it is append-only everywhere."""

from django.contrib import admin

from .models import AuditEntry


@admin.register(AuditEntry)
class AuditEntryAdmin(admin.ModelAdmin):
    list_display = ("id", "at", "action", "object_type", "object_id", "actor_label", "agency_code")
    list_filter = ("action", "object_type", "agency_code")
    search_fields = ("object_id", "actor_label")
    readonly_fields = [f.name for f in AuditEntry._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
