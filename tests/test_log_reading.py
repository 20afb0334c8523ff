"""The one log reader: whole lines, never half a UTF-8 character, offsets that resume exactly, and following to the end."""

from __future__ import annotations

import pytest

from finetui.core.errors import InvalidInput
from finetui.core.log_reading import follow_chunks, read_chunk, whole_lines
from finetui.core.models import LogChunk


def test_a_character_straddling_the_chunk_boundary_is_left_whole_for_the_next_read(tmp_path):
    # one line longer than a chunk: it comes in pieces (a reader never stalls), each cut before a whole character
    path = tmp_path / "log"
    path.write_bytes("ab€cd\n".encode())  # € is 3 bytes: offsets 2, 3, 4
    for max_bytes in (3, 4):
        first = read_chunk(path, 0, max_bytes, ended=False)
        assert (first.text, first.next_offset) == ("ab", 2)
    rest = read_chunk(path, 2, 100, ended=False)
    assert rest.text == "€cd\n" and not rest.complete
    assert whole_lines("é".encode()[:1], final=False, full=True) == b""


def test_a_partial_last_line_waits_while_the_writer_runs_and_comes_once_it_has_ended(tmp_path):
    path = tmp_path / "log"
    path.write_bytes("one\ntwo\nthr".encode())
    running = read_chunk(path, 0, ended=False)
    assert (running.text, running.next_offset, running.complete) == ("one\ntwo\n", 8, False)
    assert read_chunk(path, 8, ended=False).text == ""
    ended = read_chunk(path, 8, ended=True)
    assert (ended.text, ended.next_offset, ended.complete) == ("thr", 11, True)
    # capped before the end of an ended log: whole lines only, and not complete yet
    capped = read_chunk(path, 0, 6, ended=True)
    assert (capped.text, capped.complete) == ("one\n", False)


def test_offsets_past_the_end_read_nothing_and_negative_ones_are_refused(tmp_path):
    path = tmp_path / "log"
    path.write_bytes(b"a\n")
    past = read_chunk(path, 50, ended=False)
    assert (past.text, past.offset, past.next_offset, past.complete) == ("", 50, 50, False)
    assert read_chunk(path, 50, ended=True).complete
    assert read_chunk(tmp_path / "not-yet", 0, ended=False) == LogChunk("", 0, 0, False)
    with pytest.raises(InvalidInput, match="log offset must be 0 or more"):
        read_chunk(path, -1, ended=False)


def test_following_a_file_that_grows_reads_each_line_once_until_the_job_ends(tmp_path):
    path = tmp_path / "log"
    path.write_bytes(b"")
    # the writer's steps run where the follower would wait: no threads and no real sleeps
    writes = iter([b"step 1\nst", b"ep 2\n", "ünïcode\n".encode(), b"last, no newline"])
    state = {"ended": False}

    def wait(_seconds: float) -> None:
        try:
            with open(path, "ab") as f:
                f.write(next(writes))
        except StopIteration:
            state["ended"] = True

    chunks = list(follow_chunks(lambda at: read_chunk(path, at, ended=state["ended"]), poll_s=0.5, sleep=wait))
    assert "".join(c.text for c in chunks) == "step 1\nstep 2\nünïcode\nlast, no newline"
    assert chunks[-1].complete and chunks[-1].next_offset == path.stat().st_size
    assert all(c.text.endswith("\n") for c in chunks[:-1])


def test_following_stops_when_the_job_ends_at_once_when_idle_without_keep_going_and_when_cancelled(tmp_path):
    reads: list[int] = []

    def read(offset: int) -> LogChunk:
        reads.append(offset)
        return LogChunk("x\n" if offset < 4 else "", offset, min(offset + 2, 4), False)

    # without keep_going: what has been written so far, ending at the first read with nothing new
    chunks = list(follow_chunks(read, keep_going=False, sleep=lambda s: pytest.fail("no wait without keep_going")))
    assert [c.text for c in chunks] == ["x\n", "x\n", ""] and chunks[-1].next_offset == 4
    # a "done" check other than the chunk's own (e.g. a server that stopped)
    assert list(follow_chunks(read, 4, done=lambda c: True)) == [LogChunk("", 4, 4, False)]
    # cancelled while waiting: no further read
    reads.clear()
    assert list(follow_chunks(read, 4, sleep=lambda s: None, cancelled=lambda: len(reads) >= 2)) == [LogChunk("", 4, 4, False)]
    assert reads == [4, 4]
