from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin

from .models import ApiToken, User


@admin.register(User)
class UserAdmin(BaseUserAdmin):
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
