from django.contrib import admin

from tambo.core.admin_base import ReadOnlyAdmin

from .models import Notice, OfficialAlert


@admin.register(Notice)
class NoticeAdmin(ReadOnlyAdmin):
    list_display = ("filing", "kind", "citizen", "deposited_at", "effective_on", "read_at")
    list_filter = ("kind", "agency")
    readonly_fields = [f.name for f in Notice._meta.fields]


@admin.register(OfficialAlert)
class OfficialAlertAdmin(admin.ModelAdmin):
    list_display = ("filing", "kind", "unit", "created_at", "seen_at")
    list_filter = ("kind",)
