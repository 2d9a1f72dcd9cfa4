"""``tambo makemessages``: Django's, also extracting strings marked with ``N_``.

Tambo marks strings that are translated later, at display time, with
``gettext_noop as N_`` (status and channel labels in the presenters). xgettext's
Python keywords do not include ``N_``, so Django's command alone would leave them
out of the catalogues and they would never be translated.
"""

from django.core.management.commands import makemessages


class Command(makemessages.Command):
    xgettext_options = [*makemessages.Command.xgettext_options, "--keyword=N_"]
