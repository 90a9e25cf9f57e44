"""Turn alerts, incidents and digests into messages people read, safely.

  safe      untrusted text and links made harmless (:func:`safe_text`, :func:`safe_link`)
  doc       a message as a small document, written out per channel (:class:`Message`)
  incident  pages, updates, repeats, escalations and acknowledgements, from typed facts
  ops       source-health and unrouted-alert notices for the ops route
  digest    the daily digest
"""
from monitor.render.digest import IncidentView, digest_message
from monitor.render.doc import Message, channel_of, local_time
from monitor.render.incident import AlertView, ack_message, incident_message
from monitor.render.ops import ops_notice, unrouted_notice
from monitor.render.safe import safe_link, safe_text

__all__ = [
    "AlertView", "IncidentView", "Message", "ack_message", "channel_of", "digest_message", "incident_message",
    "local_time", "ops_notice", "safe_link", "safe_text", "unrouted_notice",
]
