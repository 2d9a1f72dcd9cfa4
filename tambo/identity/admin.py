from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin

from . import actions
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
    actions = ["disable_accounts", "reset_second_factor"]

    def save_model(self, request, obj, form, change):
        """Unticking "active" goes through the disabling action: all sessions end at once."""
        super().save_model(request, obj, form, change)
        if change and "is_active" in form.changed_data and not obj.is_active:
            actions.disable_account(request.user, obj)

    @admin.action(description="Deshabilitar las cuentas elegidas (terminan sus sesiones)")
    def disable_accounts(self, request, queryset):
        for user in queryset.filter(is_active=True):
            actions.disable_account(request.user, user)

    @admin.action(
        description="Restablecer el segundo factor (pierden el autenticador; se les avisa)"
    )
    def reset_second_factor(self, request, queryset):
        """The administrator's way for a lost phone: audited, sessions ended, the official told."""
        from tambo.core.errors import DomainError

        from .second_factor import reset_second_factor

        done = 0
        for user in queryset:
            try:
                reset_second_factor(request.user, user.pk, "Desde la administración")
                done += 1
            except DomainError as exc:
                self.message_user(request, f"{user.username}: {exc.message}", level="error")
        self.message_user(request, f"Segundo factor restablecido: {done} cuenta(s).")


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
