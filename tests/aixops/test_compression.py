"""A gzip member compressed once around a hole that each response fills (aixops/compression.py)."""

import gzip
import random
import zlib

import pytest
from django.test import RequestFactory

from aixops.compression import GzipFrame, _multiply_mod_p, _x_to_the_8n, accepts_gzip

PAGE_START = b"<!doctype html><title>DevOps Guide</title>" * 40
PAGE_END = "<main><h2>핵심 서비스 스냅샷</h2><p>GitLab · Jenkins</p></main>".encode() * 300


def some_bytes(seed: int, size: int) -> bytes:
    return random.Random(seed).randbytes(size)  # noqa: S311 - test data, not a secret


@pytest.mark.parametrize(
    "hole",
    [
        b"",
        b'<header>bob <input name="csrfmiddlewaretoken" value="Xk2"></header>',
        "<span>김철수</span>".encode(),
        some_bytes(1, 70_000),  # more than one stored block holds (65,535 bytes)
        some_bytes(2, 3 * 65_535),  # exactly three blocks
    ],
    ids=["empty", "ascii", "korean", "two-blocks", "three-full-blocks"],
)
def test_a_filled_frame_is_one_valid_gzip_member_of_the_whole_page(hole):
    frame = GzipFrame.around(PAGE_START, PAGE_END)
    member = frame.fill(hole)
    # gzip.decompress checks the trailer: the CRC-32 and the length of the whole.
    assert gzip.decompress(member) == PAGE_START + hole + PAGE_END
    decoder = zlib.decompressobj(16 + zlib.MAX_WBITS)
    assert decoder.decompress(member) == PAGE_START + hole + PAGE_END
    assert decoder.eof and decoder.unused_data == b""


def test_one_frame_serves_many_holes_and_empty_halves():
    frame = GzipFrame.around(b"", b"")
    assert gzip.decompress(frame.fill(b"")) == b""
    assert gzip.decompress(frame.fill(b"only the hole")) == b"only the hole"
    page = GzipFrame.around(PAGE_START, PAGE_END)
    for reader in ("bob", "sam", "carol"):
        assert (
            gzip.decompress(page.fill(reader.encode())) == PAGE_START + reader.encode() + PAGE_END
        )


def test_the_shared_halves_are_compressed_and_the_hole_is_stored_as_it_is():
    hole = b'<input name="csrfmiddlewaretoken" value="secret-token-of-bob">'
    member = GzipFrame.around(PAGE_START, PAGE_END).fill(hole)
    # The reader's secret is never compressed together with anything (BREACH).
    assert hole in member
    assert len(member) < (len(PAGE_START) + len(PAGE_END)) / 10 + len(hole)


@pytest.mark.parametrize("split", [0, 1, 4095, 65_536, 199_999])
def test_moving_a_crc_past_n_bytes_is_what_zlib_computes(split):
    data = some_bytes(split, 200_000)
    first, second = data[:split], data[split:]
    combined = _multiply_mod_p(_x_to_the_8n(len(second)), zlib.crc32(first)) ^ zlib.crc32(second)
    assert combined == zlib.crc32(data)


@pytest.mark.parametrize(
    ("header", "accepted"),
    [
        ("gzip, deflate, br, zstd", True),  # Chromium
        ("GZIP", True),
        ("deflate, gzip;q=0.5", True),
        ("x-gzip", True),
        ("gzip;q=0", False),
        ("br, gzip; q=0.000", False),
        ("deflate, br", False),
        ("identity", False),
        ("", False),
    ],
)
def test_gzip_is_sent_only_to_clients_that_take_it(header, accepted):
    request = RequestFactory().get("/", headers={"Accept-Encoding": header} if header else {})
    assert accepts_gzip(request) is accepted
