from django.contrib import admin

from .models import Agency, AgencyClosure, OrgUnit, Procedure, ProcedureVersion, Topic


class OrgUnitInline(admin.TabularInline):
    model = OrgUnit
    extra = 0


class ClosureInline(admin.TabularInline):
    model = AgencyClosure
    extra = 0


@admin.register(Agency)
class AgencyAdmin(admin.ModelAdmin):
    list_display = ("code", "name", "type", "ruc", "ubigeo")
    search_fields = ("code", "name", "ruc")
    inlines = [OrgUnitInline, ClosureInline]


class VersionInline(admin.TabularInline):
    model = ProcedureVersion
    fields = ("number", "published_at", "approval", "term_days", "content_hash", "source_path")
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True


@admin.register(Procedure)
class ProcedureAdmin(admin.ModelAdmin):
    list_display = ("code", "name", "agency", "is_active")
    list_filter = ("agency", "topics", "is_active")
    search_fields = ("code", "name")
    readonly_fields = ("current_version", "search_text")
    inlines = [VersionInline]


@admin.register(ProcedureVersion)
class ProcedureVersionAdmin(admin.ModelAdmin):
    """Versions are published from reviewed files; the admin only shows them."""

    list_display = ("procedure", "number", "approval", "term_days", "published_at")
    readonly_fields = [f.name for f in ProcedureVersion._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


admin.site.register(Topic)


@admin.register(OrgUnit)
class OrgUnitAdmin(admin.ModelAdmin):
    list_display = ("code", "name", "agency")
    list_filter = ("agency",)
    search_fields = ("code", "name", "agency__code")
