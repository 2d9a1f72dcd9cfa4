"""A read-only admin for records written only by actions (audit, expedientes, documents, notices)."""

from django.contrib import admin


class ReadOnlyAdmin(admin.ModelAdmin):
    """Shows the rows; adding, changing and deleting go through the actions, never the admin."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
