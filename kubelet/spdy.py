"""SPDY/3 framing, as far as Kubernetes' port-forward protocol uses it.

kubectl 1.32 tunnels SPDY/3.1 through a WebSocket (subprotocol
``SPDY/3.1+portforward.k8s.io``): the WebSocket's binary messages, concatenated, are the SPDY
byte stream, and a frame may span messages. :class:`FrameReader` is fed those bytes and
yields whole frames; the ``encode_*`` functions build what a server sends.

A frame is 8 header bytes then its payload. A control frame has the top bit set, the version
(3) and a type (SYN_STREAM 1, SYN_REPLY 2, RST_STREAM 3, SETTINGS 4, PING 6, GOAWAY 7,
HEADERS 8, WINDOW_UPDATE 9), then flags and a 24-bit length; a data frame has a 31-bit
stream id, flags (FIN 1) and a 24-bit length. Header blocks (a 32-bit count, then each name
and value with a 32-bit length; several values joined by NUL) are zlib-compressed with the
protocol's dictionary, one compression context per direction for the whole session.

Flow control (WINDOW_UPDATE) is read and ignored: Kubernetes' SPDY peer (spdystream) neither
enforces nor sends windows, and the byte stream below (TCP, WebSocket) already applies
back-pressure.
"""

from __future__ import annotations

import dataclasses
import struct
import zlib

__all__ = ["VERSION", "SYN_STREAM", "SYN_REPLY", "RST_STREAM", "SETTINGS", "PING", "GOAWAY", "HEADERS",
           "WINDOW_UPDATE", "FLAG_FIN", "MAX_DATA", "ProtocolError", "ControlFrame", "DataFrame",
           "FrameReader", "HeaderCodec", "encode_data", "encode_syn_reply", "encode_rst_stream",
           "encode_ping", "encode_goaway"]

VERSION = 3
SYN_STREAM, SYN_REPLY, RST_STREAM, SETTINGS, PING, GOAWAY, HEADERS, WINDOW_UPDATE = 1, 2, 3, 4, 6, 7, 8, 9
FLAG_FIN = 0x01
MAX_DATA = 32 * 1024  # what one data frame carries here (the protocol allows 16 MiB)
_MAX_FRAME = 1 << 24

# RST_STREAM status codes.
PROTOCOL_ERROR, INVALID_STREAM, REFUSED_STREAM, CANCEL, INTERNAL_ERROR = 1, 2, 3, 5, 6

# The SPDY/3 header compression dictionary (draft 3, "Name/Value Header Block"): 1423 bytes.
DICTIONARY = (
    b"\x00\x00\x00\x07options\x00\x00\x00\x04head\x00\x00\x00\x04post"
    b"\x00\x00\x00\x03put\x00\x00\x00\x06delete\x00\x00\x00\x05trace"
    b"\x00\x00\x00\x06accept\x00\x00\x00\x0eaccept-charset\x00\x00\x00"
    b"\x0faccept-encoding\x00\x00\x00\x0faccept-language\x00\x00\x00\raccept-ranges"
    b"\x00\x00\x00\x03age\x00\x00\x00\x05allow\x00\x00\x00\rauthorization"
    b"\x00\x00\x00\rcache-control\x00\x00\x00\nconnection"
    b"\x00\x00\x00\x0ccontent-base\x00\x00\x00\x10content-encoding"
    b"\x00\x00\x00\x10content-language\x00\x00\x00\x0econtent-length"
    b"\x00\x00\x00\x10content-location\x00\x00\x00\x0bcontent-md5"
    b"\x00\x00\x00\rcontent-range\x00\x00\x00\x0ccontent-type\x00\x00"
    b"\x00\x04date\x00\x00\x00\x04etag\x00\x00\x00\x06expect"
    b"\x00\x00\x00\x07expires\x00\x00\x00\x04from\x00\x00\x00\x04host"
    b"\x00\x00\x00\x08if-match\x00\x00\x00\x11if-modified-since"
    b"\x00\x00\x00\rif-none-match\x00\x00\x00\x08if-range\x00\x00\x00"
    b"\x13if-unmodified-since\x00\x00\x00\rlast-modified\x00\x00\x00"
    b"\x08location\x00\x00\x00\x0cmax-forwards\x00\x00\x00\x06pragma\x00"
    b"\x00\x00\x12proxy-authenticate\x00\x00\x00\x13proxy-authorization"
    b"\x00\x00\x00\x05range\x00\x00\x00\x07referer\x00\x00\x00\x0bretry-after"
    b"\x00\x00\x00\x06server\x00\x00\x00\x02te\x00\x00\x00\x07trailer"
    b"\x00\x00\x00\x11transfer-encoding\x00\x00\x00\x07upgrade"
    b"\x00\x00\x00\nuser-agent\x00\x00\x00\x04vary\x00\x00\x00\x03"
    b"via\x00\x00\x00\x07warning\x00\x00\x00\x10www-authenticate\x00\x00"
    b"\x00\x06method\x00\x00\x00\x03get\x00\x00\x00\x06status"
    b"\x00\x00\x00\x06200 OK\x00\x00\x00\x07version\x00\x00\x00\x08HTTP/1.1"
    b"\x00\x00\x00\x03url\x00\x00\x00\x06public\x00\x00\x00\nset-cookie"
    b"\x00\x00\x00\nkeep-alive\x00\x00\x00\x06origin100101201202205"
    b"2063003023033043053063074024054064074084094104114124134144154164"
    b"17502504505203 Non-Authoritative Information204 No Content301 Mo"
    b"ved Permanently400 Bad Request401 Unauthorized403 Forbidden404 N"
    b"ot Found500 Internal Server Error501 Not Implemented503 Service "
    b"UnavailableJan Feb Mar Apr May Jun Jul Aug Sept Oct Nov Dec 00:0"
    b"0:00 Mon, Tue, Wed, Thu, Fri, Sat, Sun, GMTchunked,text/html,ima"
    b"ge/png,image/jpg,image/gif,application/xml,application/xhtml+xml"
    b",text/plain,text/javascript,publicprivatemax-age=gzip,deflate,sd"
    b"chcharset=utf-8charset=iso-8859-1,utf-,*,enq=0.")
assert len(DICTIONARY) == 1423


class ProtocolError(Exception):
    """Raised when the peer's bytes are no SPDY/3 the session can go on with."""


@dataclasses.dataclass(frozen=True, slots=True)
class ControlFrame:
    type: int
    flags: int
    payload: bytes


@dataclasses.dataclass(frozen=True, slots=True)
class DataFrame:
    stream_id: int
    flags: int
    data: bytes

    @property
    def fin(self) -> bool:
        return bool(self.flags & FLAG_FIN)


class FrameReader:
    """Whole frames out of a byte stream fed in pieces."""

    def __init__(self) -> None:
        self._buf = bytearray()

    def feed(self, data: bytes) -> list[ControlFrame | DataFrame]:
        self._buf += data
        frames: list[ControlFrame | DataFrame] = []
        while len(self._buf) >= 8:
            first, flags_len = struct.unpack_from(">II", self._buf)
            length = flags_len & 0xFFFFFF
            if len(self._buf) < 8 + length:
                break
            payload = bytes(self._buf[8:8 + length])
            del self._buf[:8 + length]
            flags = flags_len >> 24
            if first & 0x80000000:
                version = (first >> 16) & 0x7FFF
                if version != VERSION:
                    raise ProtocolError(f"unsupported SPDY version {version}")
                frames.append(ControlFrame(first & 0xFFFF, flags, payload))
            else:
                frames.append(DataFrame(first & 0x7FFFFFFF, flags, payload))
        return frames


class HeaderCodec:
    """The two zlib contexts of a session: one inflating what the peer sends, one deflating ours."""

    def __init__(self) -> None:
        self._inflate = zlib.decompressobj(zdict=DICTIONARY)
        self._deflate = zlib.compressobj(9, zdict=DICTIONARY)

    def decode(self, block: bytes) -> dict[str, list[str]]:
        try:
            raw = self._inflate.decompress(block)
        except zlib.error as e:
            raise ProtocolError(f"bad header block: {e}") from None
        try:
            (count,), at = struct.unpack_from(">I", raw), 4
            headers: dict[str, list[str]] = {}
            for _ in range(count):
                (n,) = struct.unpack_from(">I", raw, at)
                name = raw[at + 4:at + 4 + n].decode()
                at += 4 + n
                (v,) = struct.unpack_from(">I", raw, at)
                value = raw[at + 4:at + 4 + v].decode()
                at += 4 + v
                headers.setdefault(name.lower(), []).extend(value.split("\x00"))
        except (struct.error, UnicodeDecodeError) as e:
            raise ProtocolError(f"bad header block: {e}") from None
        return headers

    def encode(self, headers: dict[str, list[str]]) -> bytes:
        raw = bytearray(struct.pack(">I", len(headers)))
        for name, values in headers.items():
            n, v = name.lower().encode(), "\x00".join(values).encode()
            raw += struct.pack(">I", len(n)) + n + struct.pack(">I", len(v)) + v
        return self._deflate.compress(bytes(raw)) + self._deflate.flush(zlib.Z_SYNC_FLUSH)


def parse_syn_stream(payload: bytes) -> tuple[int, bytes]:
    """A SYN_STREAM's stream id and (compressed) header block."""
    if len(payload) < 10:
        raise ProtocolError("SYN_STREAM too short")
    (sid,) = struct.unpack_from(">I", payload)
    return sid & 0x7FFFFFFF, payload[10:]


def stream_id_of(payload: bytes) -> int:
    """The stream id leading a RST_STREAM, HEADERS or WINDOW_UPDATE payload."""
    if len(payload) < 4:
        raise ProtocolError("control frame too short")
    (word,) = struct.unpack_from(">I", payload)
    return int(word) & 0x7FFFFFFF


def _control(frame_type: int, flags: int, payload: bytes) -> bytes:
    return struct.pack(">HHI", 0x8000 | VERSION, frame_type, (flags << 24) | len(payload)) + payload


def encode_data(stream_id: int, data: bytes, *, fin: bool = False) -> bytes:
    if len(data) >= _MAX_FRAME:
        raise ValueError("data frame too large")
    return struct.pack(">II", stream_id & 0x7FFFFFFF, ((FLAG_FIN if fin else 0) << 24) | len(data)) + data


def encode_syn_reply(codec: HeaderCodec, stream_id: int, headers: dict[str, list[str]] | None = None, *,
                     fin: bool = False) -> bytes:
    return _control(SYN_REPLY, FLAG_FIN if fin else 0, struct.pack(">I", stream_id) + codec.encode(headers or {}))


def encode_rst_stream(stream_id: int, status: int) -> bytes:
    return _control(RST_STREAM, 0, struct.pack(">II", stream_id, status))


def encode_ping(ping_id: int) -> bytes:
    return _control(PING, 0, struct.pack(">I", ping_id))


def encode_goaway(last_stream_id: int, status: int = 0) -> bytes:
    return _control(GOAWAY, 0, struct.pack(">II", last_stream_id, status))
