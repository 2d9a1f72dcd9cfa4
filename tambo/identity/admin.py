from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin

from .models import ApiToken, Appointment, User


class AppointmentInline(admin.TabularInline):
    """Agency administrators give officials their roles in org units here."""

    model = Appointment
    extra = 0
    autocomplete_fields = ["unit"]


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    inlines = [AppointmentInline]
    fieldsets = (
        *BaseUserAdmin.fieldsets,
        ("Identity", {"fields": ("document_type", "document_number", "phone", "language")}),
    )
    list_display = ("username", "document_type", "document_number", "email", "is_staff")
    search_fields = ("username", "document_number", "email", "first_name", "last_name")


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = ("name", "user", "created_at")
    readonly_fields = ("token_hash",)


@admin.register(Appointment)
class AppointmentAdmin(admin.ModelAdmin):
    list_display = ("user", "role", "unit", "active")
    list_filter = ("role", "active", "unit__agency")
    search_fields = ("user__username", "user__last_name", "unit__name", "unit__code")
    autocomplete_fields = ["user", "unit"]
