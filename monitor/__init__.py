"""repwatch core: config, matching, storage, sentiment, rules and notification.

Data flows one way::

    scheduler -> connector.fetch -> Mention -> match -> store -> score -> rules -> notify

Connectors (the :mod:`connectors` package) only produce :class:`monitor.mention.Mention`
objects; every later stage lives here and is wired together in :mod:`monitor.app`.
"""

__version__ = "0.1.0"
