from django.contrib import admin

from .models import Notice, OfficialAlert


@admin.register(Notice)
class NoticeAdmin(admin.ModelAdmin):
    list_display = ("filing", "kind", "citizen", "deposited_at", "effective_on", "read_at")
    list_filter = ("kind", "agency")
    readonly_fields = [f.name for f in Notice._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(OfficialAlert)
class OfficialAlertAdmin(admin.ModelAdmin):
    list_display = ("filing", "kind", "unit", "created_at", "seen_at")
    list_filter = ("kind",)
