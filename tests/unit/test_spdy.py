"""SPDY/3 framing for port-forward (kubelet/spdy.py): frames split anywhere are reassembled,
header blocks round-trip through one zlib context per direction, and the frames a server
writes carry the layout of the SPDY/3 draft."""

from __future__ import annotations

import struct
import zlib

import pytest

from kubelet import spdy


def _syn_stream(codec: spdy.HeaderCodec, stream_id: int, headers: dict[str, list[str]]) -> bytes:
    payload = struct.pack(">IIBB", stream_id, 0, 0, 0) + codec.encode(headers)
    return struct.pack(">HHI", 0x8003, spdy.SYN_STREAM, len(payload)) + payload


def test_frames_split_at_every_byte_are_reassembled() -> None:
    client = spdy.HeaderCodec()
    wire = (_syn_stream(client, 1, {"streamtype": ["error"], "port": ["80"], "requestid": ["0"]})
            + _syn_stream(client, 3, {"streamtype": ["data"], "port": ["80"], "requestid": ["0"]})
            + spdy.encode_data(3, b"GET / HTTP/1.0\r\n\r\n") + spdy.encode_data(3, b"", fin=True))
    reader, server = spdy.FrameReader(), spdy.HeaderCodec()
    frames = [f for i in range(len(wire)) for f in reader.feed(wire[i:i + 1])]
    assert [type(f).__name__ for f in frames] == ["ControlFrame", "ControlFrame", "DataFrame", "DataFrame"]
    sid, block = spdy.parse_syn_stream(frames[0].payload)
    assert (sid, server.decode(block)) == (1, {"streamtype": ["error"], "port": ["80"], "requestid": ["0"]})
    sid, block = spdy.parse_syn_stream(frames[1].payload)
    assert (sid, server.decode(block)["streamtype"]) == (3, ["data"])
    assert (frames[2].stream_id, frames[2].data, frames[2].fin) == (3, b"GET / HTTP/1.0\r\n\r\n", False)
    assert (frames[3].stream_id, frames[3].data, frames[3].fin) == (3, b"", True)


def test_syn_reply_headers_inflate_with_the_spdy3_dictionary() -> None:
    codec = spdy.HeaderCodec()
    inflate = zlib.decompressobj(zdict=spdy.DICTIONARY)  # the peer's context, independent of ours
    for sid in (1, 3, 5):
        frame = spdy.encode_syn_reply(codec, sid)
        first, flags_len = struct.unpack_from(">II", frame)
        assert first == 0x80030002 and flags_len & 0xFFFFFF == len(frame) - 8
        assert struct.unpack_from(">I", frame, 8)[0] == sid
        assert inflate.decompress(frame[12:]) == b"\x00\x00\x00\x00"  # no headers


def test_control_frames_of_another_version_are_refused() -> None:
    with pytest.raises(spdy.ProtocolError, match="version 2"):
        spdy.FrameReader().feed(struct.pack(">HHI", 0x8002, spdy.PING, 4) + b"\x00\x00\x00\x01")


def test_ping_rst_goaway_layout() -> None:
    assert spdy.encode_ping(7) == bytes.fromhex("8003000600000004") + b"\x00\x00\x00\x07"
    assert spdy.encode_rst_stream(5, 5) == bytes.fromhex("800300030000000800000005" "00000005")
    assert spdy.encode_goaway(9) == bytes.fromhex("800300070000000800000009" "00000000")
    assert spdy.encode_data(3, b"ab", fin=True) == bytes.fromhex("000000030100000261" "62")
