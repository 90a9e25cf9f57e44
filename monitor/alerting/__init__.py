"""Alerting, in Alertmanager's vocabulary. Modules (import them directly; this package
re-exports nothing, so :mod:`monitor.render` can use the facts without loading the
dispatcher):

  facts       typed facts per kind of alert, serialised with a kind tag, parsed strictly
  status      alert, incident and notification states (str enums: the stored words)
  rules       when burst, spike and severe alerts fire, with their window queries
  notices     source health as labelled alerts for the ops route
  routing     labels + routes -> routes (a pure function), group keys
  silences    matchers that mute alerts until they end
  inhibition  alerts muted while another fires
  timing      group_wait, group_interval, quiet hours
  incidents   page, update, escalate, repeat, acknowledge, resolve; signed ack links
  digest      daily digests
  outgoing    a notification for a route, with its deliveries
  dispatch    :class:`~monitor.alerting.dispatch.Dispatcher`: one pass through all of it
"""
