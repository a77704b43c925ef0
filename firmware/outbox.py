# Frames waiting for the USB port: a ring that never blocks the loop. When the host stops
# reading and the ring is full, the oldest frame is dropped and counted (STATUS reports it).
#
# Zero-copy: the encoder's output buffer is swapped with a free ring slot, so queueing a
# frame moves a reference and allocates nothing.
import array

import protocol

_MAX_WRITES_PER_PUMP = 8


class Outbox:
    def __init__(self, usb, slots=48):
        self.usb = usb
        self.enc = protocol.Encoder()
        self._ring = [bytearray(protocol.MAX_FRAME) for _ in range(slots)]
        self._len = array.array("H", [0] * slots)
        self._slots = slots
        self._head = 0
        self._tail = 0
        self._count = 0
        self.seq = 0
        self.dropped = 0
        self.sent = 0

    def raw(self):
        """The buffer to pack a payload into, at protocol.PAYLOAD_OFFSET."""
        return self.enc.raw

    def send(self, msg_type, payload_len, time_ms):
        """Frame the payload packed in raw() and queue it; drop the oldest if full."""
        enc = self.enc
        n = enc.finish(msg_type, self.seq, time_ms, payload_len)
        self.seq = (self.seq + 1) & 0xFFFF
        if self._count == self._slots:
            self._tail = (self._tail + 1) % self._slots
            self._count -= 1
            self.dropped += 1
        h = self._head
        self._ring[h], enc.out = enc.out, self._ring[h]
        self._len[h] = n
        self._head = (h + 1) % self._slots
        self._count += 1

    def pump(self):
        """Write queued frames while the port accepts them."""
        usb = self.usb
        k = 0
        while self._count and k < _MAX_WRITES_PER_PUMP and usb.writable():
            t = self._tail
            usb.write(self._ring[t], self._len[t])
            self._tail = (t + 1) % self._slots
            self._count -= 1
            self.sent += 1
            k += 1

    def pending(self):
        return self._count
