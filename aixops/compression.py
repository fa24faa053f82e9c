"""Gzip responses compressed once, with each response's own bytes spliced in uncompressed.

A cached page is the same for every reader except its top bar (CSRF token, name, the
address the language switch returns to). Compressing a 460 KB overview for every view
costs more than everything else the view does, and not compressing it makes every view
move 460 KB. `GzipFrame` compresses what is shared once and, per response, puts the
reader's bytes between the two compressed halves as a stored (uncompressed) deflate
block, then the trailer with the CRC-32 of the whole, combined rather than recomputed.

Storing the reader's bytes uncompressed is also what keeps BREACH out: the per-reader
secret (the CSRF token) is never compressed together with anything, and the compressed
halves hold catalog text only, the same for every reader.
"""

import re
import struct
import zlib
from dataclasses import dataclass

# RFC 1952: magic, deflate, no flags, no modification time, no extra flags, unknown OS.
_GZIP_HEADER = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff"
_RAW_DEFLATE = -zlib.MAX_WBITS
_STORED_BLOCK_LIMIT = 0xFFFF  # RFC 1951: LEN is 16 bits


@dataclass(frozen=True)
class GzipFrame:
    """A gzip member of `before + <hole> + after`, compressed once; `fill` makes one with
    the hole filled. Any gzip decoder reads the result as one ordinary member."""

    compressed_before: bytes  # gzip header and deflate blocks, flushed to a byte boundary
    compressed_after: bytes  # deflate blocks, the last one final
    before_crc: int
    before_size: int
    after_crc: int
    after_size: int
    after_shift: int  # x^(8 * after_size) mod the CRC polynomial: moves a CRC past `after`

    @classmethod
    def around(cls, before: bytes, after: bytes, level: int = 9) -> "GzipFrame":
        # Two compressors: `after` never refers back to bytes it did not see, so the
        # blocks decode the same behind any hole. The sync flush ends `before` on a byte
        # boundary without ending the stream.
        head = zlib.compressobj(level, zlib.DEFLATED, _RAW_DEFLATE)
        tail = zlib.compressobj(level, zlib.DEFLATED, _RAW_DEFLATE)
        return cls(
            compressed_before=_GZIP_HEADER + head.compress(before) + head.flush(zlib.Z_SYNC_FLUSH),
            compressed_after=tail.compress(after) + tail.flush(zlib.Z_FINISH),
            before_crc=zlib.crc32(before),
            before_size=len(before),
            after_crc=zlib.crc32(after),
            after_size=len(after),
            after_shift=_x_to_the_8n(len(after)),
        )

    def fill(self, hole: bytes) -> bytes:
        """The gzip member of `before + hole + after`: `hole` is stored as it is."""
        crc = zlib.crc32(hole, self.before_crc)
        crc = _multiply_mod_p(self.after_shift, crc) ^ self.after_crc
        size = (self.before_size + len(hole) + self.after_size) & 0xFFFFFFFF
        return b"".join(
            (
                self.compressed_before,
                *_stored_blocks(hole),
                self.compressed_after,
                struct.pack("<II", crc, size),
            )
        )


def _stored_blocks(data: bytes):
    # Not final (BFINAL 0), stored (BTYPE 00): after a sync flush the header is a zero
    # byte, then LEN and its ones' complement, then the bytes themselves.
    for start in range(0, len(data), _STORED_BLOCK_LIMIT):
        chunk = data[start : start + _STORED_BLOCK_LIMIT]
        yield struct.pack("<BHH", 0, len(chunk), len(chunk) ^ 0xFFFF)
        yield chunk


# CRC-32 arithmetic in GF(2)[x] modulo its polynomial, as zlib's crc32_combine does it
# (crc32.c, 1.2.12 and later); Python's zlib module does not expose that function.
_POLYNOMIAL = 0xEDB88320  # reflected: the top bit is x^0


def _multiply_mod_p(a: int, b: int) -> int:
    product = 0
    bit = 1 << 31
    while True:
        if a & bit:
            product ^= b
            if a & (bit - 1) == 0:
                return product
        bit >>= 1
        b = (b >> 1) ^ _POLYNOMIAL if b & 1 else b >> 1


def _powers_of_x() -> list[int]:
    # x^(2^k) mod p for k = 0..31, each the square of the one before; x^1 is 1 << 30.
    powers = [1 << 30]
    for _ in range(31):
        powers.append(_multiply_mod_p(powers[-1], powers[-1]))
    return powers


_X_TO_THE_2_TO_THE = _powers_of_x()


def _x_to_the_8n(n: int) -> int:
    """x^(8n) mod p: multiplying a CRC by it appends n zero bytes' worth of shifting."""
    power = 1 << 31  # x^0
    k = 3  # 8n = n * 2^3
    while n:
        if n & 1:
            power = _multiply_mod_p(_X_TO_THE_2_TO_THE[k % 32], power)
        n >>= 1
        k += 1
    return power


# A coding named with q=0 is refused (RFC 9110, 12.5.3); any other mention accepts it.
_GZIP_REFUSED = re.compile(r"^\s*q\s*=\s*0(\.0*)?\s*$")


def accepts_gzip(request) -> bool:
    """Whether the client takes a gzip-coded response (its Accept-Encoding says so)."""
    for coding in request.headers.get("Accept-Encoding", "").split(","):
        name, _, parameters = coding.partition(";")
        if name.strip().lower() in ("gzip", "x-gzip"):
            return not _GZIP_REFUSED.match(parameters)
    return False
