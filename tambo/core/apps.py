from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "tambo.core"
    label = "core"
    verbose_name = "Tambo core"

    def ready(self) -> None:
        from django.db.backends.signals import connection_created

        from tambo.core.dbwait import bound_new_connection

        connection_created.connect(bound_new_connection, dispatch_uid="tambo.core.dbwait")
