from django.apps import AppConfig


class IdentityConfig(AppConfig):
    name = "tambo.identity"
    label = "identity"
    verbose_name = "Identity"
