"""The streaming reader: line numbers stay true around oversized lines, gzip faults become verdicts."""

import gzip
import io
import zlib

import numpy as np

from metering_pipeline.ingest.reader import Chunk, FileFault, Oversized, iter_file


def collect(data: bytes, compressed=False, **limits):
    items = list(iter_file(io.BytesIO(data), compressed, **limits))
    lines = []
    for item in items:
        if isinstance(item, Chunk):
            assert item.data.count(b"\n") == item.line_count
            assert np.array_equal(item.ends, [i for i, byte in enumerate(item.data) if byte == 10])  # the loader's offsets
            numbered = item.data.split(b"\n")[:-1]
            lines += [(item.first_line_no + i, text) for i, text in enumerate(numbered)]
    return lines, [i for i in items if not isinstance(i, Chunk)]


def test_oversized_lines_keep_numbering_and_head():
    data = b"a\n" + b"x" * 100 + b"\nb\r\nc"
    lines, other = collect(data, max_line=10, chunk_bytes=3)
    assert lines == [(1, b"a"), (2, b""), (3, b"b\r"), (4, b"c")]
    assert other == [Oversized(line_no=2, head=b"x" * 100, size=100)]


def test_oversized_line_spanning_reads_is_skipped_without_holding_it():
    data = b"first\n" + b"y" * (20 << 20) + b"\nlast\n"
    lines, other = collect(data, max_line=1 << 20)
    assert lines == [(1, b"first"), (2, b""), (3, b"last")]
    assert other[0].line_no == 2 and other[0].size == 20 << 20 and len(other[0].head) == 64 << 10


class SmallReads(io.BytesIO):
    def __init__(self, data: bytes, size: int):
        super().__init__(data)
        self.size = size

    def read(self, n=-1):
        return super().read(self.size)


def test_line_ends_stay_true_around_cut_lines_across_reads_and_chunks():
    """Several oversized lines in one read, lines across reads, a last line without \n: ends match the bytes."""
    lines = [b"a", b"x" * 30, b"bb", b"", b"y" * 11, b"ccc\r", b"z" * 25, b"d", b"e"]
    data = b"\n".join(lines)  # no final newline
    for read_size in (1, 7, 64, 1000):
        for chunk_bytes in (1, 10, 1 << 20):
            items = list(iter_file(SmallReads(data, read_size), False, chunk_bytes=chunk_bytes, max_line=10))
            chunks = [i for i in items if isinstance(i, Chunk)]
            joined = b"".join(c.data for c in chunks)
            assert joined == b"a\n\nbb\n\n\nccc\r\n\nd\ne\n"
            offsets = np.concatenate([c.ends + sum(len(p.data) for p in chunks[:k]) for k, c in enumerate(chunks)])
            assert offsets.tolist() == [i for i, byte in enumerate(joined) if byte == 10]
            assert [c.first_line_no for c in chunks] == np.cumsum([1] + [c.line_count for c in chunks[:-1]]).tolist()
            assert sorted((o.line_no, o.size) for o in items if isinstance(o, Oversized)) == [(2, 30), (5, 11), (7, 25)]


def test_multi_member_gzip():
    lines, other = collect(gzip.compress(b"a\nb\n") + gzip.compress(b"c\n"), compressed=True)
    assert [text for _, text in lines] == [b"a", b"b", b"c"] and other == []


def test_truncated_gzip_keeps_decoded_lines_and_reports_the_rest():
    packed = gzip.compress(b"".join(b'{"n":%d}\n' % i for i in range(50_000)))
    lines, other = collect(packed[: len(packed) // 2], compressed=True)
    assert 0 < len(lines) < 50_000
    assert [(f.reason, f.line_no) for f in other] == [("corrupt_file", len(lines) + 1)]


def test_gzip_bomb_stops_at_the_limit():
    bomb = zlib.compressobj(9, zlib.DEFLATED, 31)
    packed = bomb.compress(b"\0" * (64 << 20)) + bomb.flush()
    lines, other = collect(packed, compressed=True, max_decompressed=8 << 20)
    assert lines == [] and len(other) == 1
    assert isinstance(other[0], FileFault) and other[0].reason == "decompression_limit"


def test_not_gzip_at_all():
    lines, other = collect(b"plain text pretending\n", compressed=True)
    assert lines == [] and other[0].reason == "corrupt_file"
