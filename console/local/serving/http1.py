"""HTTP/1.1 as a scoring router needs it: a request head parsed and checked (the framing rules
that keep request smuggling out), chunked bodies, and the status lines answers start with. Pure
functions over bytes; the router's connections call them."""

from __future__ import annotations

import re
from http import HTTPStatus

MAX_HEAD = 65_536  # request line + headers
MAX_HEADERS = 100
MAX_UPSTREAM_BODY = 256 * 1024 * 1024
_REASONS = {s.value: s.phrase.encode() for s in HTTPStatus}
_STATUS_LINES = {code: b"HTTP/1.1 %d %s\r\n" % (code, reason) for code, reason in _REASONS.items()}
_HEADER_NAME = re.compile(rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_REQUEST_ID = re.compile(rb"[\x21-\x7e]{1,200}")  # what we echo and forward as x-request-id
_CHUNK_SIZE = re.compile(rb"[0-9A-Fa-f]{1,8}")


class HttpError(Exception):
    """A request we cannot take, answered with `status` and the connection closed."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def parse_head(head: bytes) -> tuple[bytes, bytes, bool, dict[bytes, bytes], int | None, bool]:
    """Request line and headers -> (method, path, keep_alive, headers, content_length, chunked).

    Header names are lower-cased; repeated headers are joined with ", " (a repeated, different
    Content-Length is refused, as are Content-Length with chunked, bare LF and NUL: the classic
    request-smuggling shapes)."""
    if b"\x00" in head or head.count(b"\n") != head.count(b"\r\n"):
        raise HttpError(400, "malformed request head")
    lines = head.split(b"\r\n")
    if len(lines) > MAX_HEADERS + 1:
        raise HttpError(431, "too many headers")
    parts = lines[0].split(b" ")
    if len(parts) != 3 or not parts[0].isalpha():
        raise HttpError(400, "malformed request line")
    method, target, version = parts
    if version == b"HTTP/1.1":
        http11 = True
    elif version == b"HTTP/1.0":
        http11 = False
    else:
        raise HttpError(505, "HTTP/1.1 or HTTP/1.0 only")
    headers: dict[bytes, bytes] = {}
    for line in lines[1:]:
        name, sep, value = line.partition(b":")
        if not sep or _HEADER_NAME.fullmatch(name) is None:
            raise HttpError(400, "malformed header line")
        name = name.lower()
        value = value.strip(b" \t")
        old = headers.get(name)
        if old is None:
            headers[name] = value
        elif name == b"content-length":
            if old != value:
                raise HttpError(400, "conflicting Content-Length headers")
        else:
            headers[name] = old + b", " + value
    length = None
    cl = headers.get(b"content-length")
    if cl is not None:
        if not cl.isdigit() or len(cl) > 15:
            raise HttpError(400, "malformed Content-Length")
        length = int(cl)
    chunked = False
    te = headers.get(b"transfer-encoding")
    if te is not None:
        if te.lower() != b"chunked":
            raise HttpError(501, "only the chunked transfer coding is supported")
        if cl is not None:
            raise HttpError(400, "Content-Length and Transfer-Encoding together")
        chunked = True
    conn = headers.get(b"connection", b"").lower()
    keep = b"close" not in conn if http11 else b"keep-alive" in conn
    return method, target.split(b"?", 1)[0], keep, headers, length, chunked


class _TooLarge(Exception):
    pass


def parse_chunked(buf: bytearray | bytes, limit: int) -> tuple[bytes, int] | None:
    """(body, bytes used) of a complete chunked body at the start of `buf`; None while incomplete.
    Raises HttpError when malformed and _TooLarge past `limit`."""
    out = bytearray()
    pos = 0
    n = len(buf)
    while True:
        eol = buf.find(b"\r\n", pos)
        if eol < 0:
            if n - pos > 1024:
                raise HttpError(400, "malformed chunk size line")
            return None
        size_s = bytes(buf[pos:eol]).split(b";", 1)[0].strip(b" \t")
        if _CHUNK_SIZE.fullmatch(size_s) is None:
            raise HttpError(400, "malformed chunk size")
        size = int(size_s, 16)
        pos = eol + 2
        if size == 0:  # then trailers (ignored) up to an empty line
            if buf[pos:pos + 2] == b"\r\n":
                return bytes(out), pos + 2
            end = buf.find(b"\r\n\r\n", pos)
            if end < 0:
                if n - pos > MAX_HEAD:
                    raise HttpError(431, "trailers too large")
                return None
            return bytes(out), end + 4
        if len(out) + size > limit:
            raise _TooLarge()
        if n < pos + size + 2:
            return None
        if buf[pos + size:pos + size + 2] != b"\r\n":
            raise HttpError(400, "malformed chunk")
        out += buf[pos:pos + size]
        pos += size + 2
