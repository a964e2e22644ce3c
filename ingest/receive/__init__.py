"""Receive: how bytes from outside get in, before anything is parsed or stored.

The HTTP receiver of registry notifications (``webhook``, its tokens in ``webhook_auth``, its record sink from the
settings in ``receivers``) and the access-log follower of ``regaudit ship-logs`` (``shipper`` over ``tail``, whose
line keys survive rotation through ``incarnation``). Both hand raw records to a record sink (``ingest.sinks``) and
answer or save their position only after the sink acknowledged them.
"""
