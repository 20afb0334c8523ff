"""Log streaming: only new lines, resumed by offset after a dropped connection, whatever the server does with Range."""

from __future__ import annotations

import pytest

from finetui.core.backend import JobRequest
from finetui.core.log_reading import follow_log
from finetui.core.errors import NetworkUnavailable, NotFound


@pytest.fixture
def running(backend, fake, chat_files):
    train, test = chat_files
    job = backend.submit_job(
        JobRequest(model="Phi-3-mini-4k-instruct", train_file=str(train), test_file=str(test), compute="gpu-a100")
    )
    fake.advance(job.name, "Running")
    fake.runs[f"{job.name}-finetune"]["status"] = "Running"
    return job.name


def test_dropped_connection_resumes_without_repeats_or_gaps(backend, fake, running):
    fake.set_step_log(running, "finetune", "line 1\nline 2\n")
    first = backend.read_log(running, 0, step="finetune")
    assert first.text == "line 1\nline 2\n"
    fake.set_step_log(running, "finetune", "line 1\nline 2\nline 3\nline 4\n")
    fake.drop_log_reads = 10  # more than the retry policy will try
    with pytest.raises(NetworkUnavailable, match="could not reach Azure to read log file"):
        backend.read_log(running, first.next_offset, step="finetune")
    fake.drop_log_reads = 0
    again = backend.read_log(running, first.next_offset, step="finetune")
    assert again.text == "line 3\nline 4\n" and again.next_offset == len(b"line 1\nline 2\nline 3\nline 4\n")


def test_a_server_ignoring_range_is_cut_locally(backend, fake, running):
    fake.honour_range = False
    fake.set_step_log(running, "finetune", "a\nb\nc\n")
    assert backend.read_log(running, 2, step="finetune").text == "b\nc\n"


def test_brief_drop_is_retried_by_the_sdk_policy(backend, fake, running):
    fake.set_step_log(running, "finetune", "x\n")
    fake.drop_log_reads = 1
    assert backend.read_log(running, 0, step="finetune").text == "x\n"


def test_follow_log_reads_every_step_to_the_end(backend, fake, running):
    fake.set_step_log(running, "finetune", "training\n", "Completed")
    fake.runs[f"{running}-model_evaluation"]["status"] = "Completed"
    fake.set_step_log(running, "model_evaluation", "evaluated\nno newline at the end")
    fake.advance(running, "Completed")
    text = "".join(follow_log(backend, running, poll=0))
    assert text == (
        "── step finetune: user_logs/std_log.txt ──\ntraining\n"
        "── step model_evaluation: user_logs/std_log.txt ──\nevaluated\nno newline at the end"
    )


def test_unknown_step_and_file_say_what_exists(backend, fake, running):
    fake.set_step_log(running, "finetune", "x\n")
    with pytest.raises(NotFound, match=r"has no step 'train'; steps: finetune"):
        backend.read_log(running, 0, step="train")
    with pytest.raises(NotFound, match=r"has no log file user_logs/std_log_process_01.txt; it has: user_logs/std_log.txt"):
        backend.read_log(running, 0, step="finetune", file="user_logs/std_log_process_01.txt")
