"""Messages between a web worker and its job runner: a 4-byte length, then a pickle.

The socket is a socketpair the worker made and handed to the runner it started, so nobody else can write to it:
unpickling what arrives on it is no more trust than the runner already places in its parent.
"""

from __future__ import annotations

import pickle
import socket
import struct

HEADER = struct.Struct("!I")


class RunnerGone(ConnectionError):
    """The other end closed the socket (the runner or the worker exited)."""


class BadMessage(ValueError):
    """A whole message arrived but could not be unpickled; the stream is still in step."""


def send(sock: socket.socket, message) -> None:
    data = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    sock.sendall(HEADER.pack(len(data)) + data)


def receive(sock: socket.socket):
    (size,) = HEADER.unpack(_exactly(sock, HEADER.size))
    data = _exactly(sock, size)
    try:
        return pickle.loads(data)
    except Exception as exc:
        raise BadMessage(f"{type(exc).__name__}: {exc}") from None


def _exactly(sock: socket.socket, size: int) -> bytes:
    chunks, left = [], size
    while left:
        chunk = sock.recv(min(left, 1 << 20))
        if not chunk:
            raise RunnerGone("the other end closed the socket")
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)
