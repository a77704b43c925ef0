"""Operations centre: field relays publish sessions over MQTT; the centre archives and lists them.

No Qt in this package except `host.ops.widget`.
"""
