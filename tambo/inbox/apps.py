from django.apps import AppConfig


class InboxConfig(AppConfig):
    name = "tambo.inbox"
    label = "inbox"
    verbose_name = "Casilla electrónica"
