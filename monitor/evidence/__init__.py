"""Evidence and retention (issue 18).

Modules
  stage      the store stage's evidence step (raw payloads, tombstones), called by
             :meth:`monitor.app.App.poll_source`
  export     ``repwatch evidence export``: the zip, its manifest and renderings
  custody    the chain-of-custody note (zh-TW and en)
  verify     ``repwatch evidence verify``: every hash recomputed
  recheck    ``repwatch evidence recheck``: a mention's URL asked again (404/410)
  retention  the ``[storage] retain`` job of the daemon

The tables and queries are in :mod:`monitor.store.evidence` and :mod:`monitor.store.retention`;
what a connector records, in :mod:`connectors.evidence`.
"""
