from django.contrib import admin

from tambo.core.admin_base import ReadOnlyAdmin

from .models import Notice, OfficialAlert, OutgoingSms


@admin.register(Notice)
class NoticeAdmin(ReadOnlyAdmin):
    list_display = ("filing", "kind", "citizen", "deposited_at", "effective_on", "read_at")
    list_filter = ("kind", "agency")
    readonly_fields = [f.name for f in Notice._meta.fields]


@admin.register(OfficialAlert)
class OfficialAlertAdmin(admin.ModelAdmin):
    list_display = ("filing", "kind", "unit", "created_at", "seen_at")
    list_filter = ("kind",)


@admin.register(OutgoingSms)
class OutgoingSmsAdmin(ReadOnlyAdmin):
    """The SMS outbox: what failed for good (status "Falló") and why, for the administrators."""

    list_display = ("once_key", "purpose", "status", "attempts", "created_at", "last_error")
    list_filter = ("status", "purpose")
    # Neither the number nor a text that may carry a one-time code is shown.
    readonly_fields = [f.name for f in OutgoingSms._meta.fields if f.name not in {"to", "text"}]
    exclude = ("to", "text")
