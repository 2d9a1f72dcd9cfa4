from django.apps import AppConfig


class PrivacyConfig(AppConfig):
    name = "tambo.privacy"
    label = "privacy"
    verbose_name = "Datos personales"
