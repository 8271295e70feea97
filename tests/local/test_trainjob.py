"""The training job without torch: the job model, its settings key and the refusal of a folder
trained otherwise, how an example becomes tokens and labels, the example order, progress
parsing, and ``run_job`` driving a fake trainer script (the real one runs in the tests marked
``vllm`` of ``test_trainer_env.py``)."""

from __future__ import annotations

import fcntl
import json
import sys
from pathlib import Path
from typing import Any

import pytest

import local.trainrun as trainrun
from local import trainer
from local.trainenv import TrainEnv
from local.trainjob import (
    ALL_LINEAR,
    TrainJob,
    TrainJobError,
    TrainProgress,
    TrainResult,
    parse_progress,
)
from local.trainrun import TrainBusyError, TrainError, TrainSettingsError, held_key, run_job


def _line(step: int, total: int = 3) -> str:
    return json.dumps(
        {"step": step, "total": total, "loss": 1.0 / step, "lr": 0.1, "elapsed_s": step,
         "eta_s": total - step, "examples_seen": step}
    )  # fmt: skip


@pytest.fixture
def job(tmp_path: Path) -> TrainJob:
    base = tmp_path / "base"
    base.mkdir()
    (base / "config.json").write_text('{"model_type": "llama"}')
    examples = tmp_path / "examples.jsonl"
    row = {"messages": [{"role": "user", "content": "hi"}], "answer": "hello"}
    examples.write_text(json.dumps(row) + "\n")
    return TrainJob(
        base_model_dir=base,
        examples_file=examples,
        output_dir=tmp_path / "out",
        adapter_name="messaging-expert",
        task_token="<app:messaging>",
    )


def test_job_defaults_and_round_trip(job: TrainJob, tmp_path: Path) -> None:
    assert job.version == 1
    assert (job.lora.r, job.lora.alpha, job.lora.dropout) == (16, 32, 0.05)
    assert job.lora.target_modules == list(ALL_LINEAR) == [
        "q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj",
    ]  # fmt: skip
    assert (job.device, job.dtype, job.truncate, job.batch_size) == ("auto", "auto", "skip", 1)
    path = tmp_path / "job.json"
    path.write_text(job.model_dump_json())
    assert TrainJob.read(path) == job
    with pytest.raises(ValueError, match="extra"):
        TrainJob.model_validate({**job.model_dump(), "surprise": 1})


def test_bad_job_file_is_one_line(tmp_path: Path) -> None:
    path = tmp_path / "job.json"
    path.write_text('{"version": 2}')
    with pytest.raises(TrainJobError, match="cannot read the training job") as err:
        TrainJob.read(path)
    assert "\n" not in str(err.value)


def test_missing_inputs_are_user_errors(job: TrainJob, tmp_path: Path) -> None:
    with pytest.raises(TrainJobError, match="no base model"):
        job.model_copy(update={"base_model_dir": tmp_path / "nowhere"}).settings_key()
    with pytest.raises(TrainJobError, match="does not exist"):
        job.model_copy(update={"examples_file": tmp_path / "none.jsonl"}).settings_key()


@pytest.mark.parametrize(
    ("field", "value"),
    [("checkpoint_every", 3), ("progress_every", 5), ("adapter_name", "x"), ("threads", 1),
     ("device", "cpu"), ("sources", ["runs"]), ("task_token", "steward")],
)  # fmt: skip
def test_settings_key_ignores_names_and_cadence(job: TrainJob, field: str, value: Any) -> None:
    other = job.model_copy(update={field: value, "output_dir": job.output_dir / "elsewhere"})
    assert other.settings_key() == job.settings_key()


@pytest.mark.parametrize(
    ("field", "value"),
    [("learning_rate", 1e-3), ("epochs", 2), ("max_steps", 7), ("max_len", 512), ("seed", 1),
     ("batch_size", 2), ("truncate", "left"), ("dtype", "bfloat16"), ("max_examples", 1)],
)  # fmt: skip
def test_settings_key_follows_what_shapes_the_weights(
    job: TrainJob, field: str, value: Any
) -> None:
    assert job.model_copy(update={field: value}).settings_key() != job.settings_key()


def test_settings_key_follows_lora_examples_and_base(job: TrainJob) -> None:
    key = job.settings_key()
    lora = job.lora.model_copy(update={"r": 8})
    assert job.model_copy(update={"lora": lora}).settings_key() != key
    with job.examples_file.open("a") as handle:
        handle.write(json.dumps({"messages": [], "answer": "more"}) + "\n")
    assert job.settings_key() != key
    key = job.settings_key()
    (job.base_model_dir / "config.json").write_text('{"model_type": "other"}')
    assert job.settings_key() != key


class FakeTokenizer:
    """One token per character; the chat template tags each message with its role."""

    eos_token_id = 0

    def apply_chat_template(
        self, messages: list[dict[str, str]], add_generation_prompt: bool, tokenize: bool
    ) -> str:
        assert add_generation_prompt and not tokenize
        return "".join(f"<{m['role']}>{m['content']}" for m in messages) + "<assistant>"

    def encode(self, text: str, add_special_tokens: bool) -> list[int]:
        assert not add_special_tokens
        return [ord(c) for c in text]


def test_loss_falls_on_the_answer_and_eos_only() -> None:
    messages = [{"role": "user", "content": "hi"}]
    got = trainer.encode_example(FakeTokenizer(), messages, "ok", 100, "skip")
    assert got is not None
    ids, labels, truncated = got
    prompt = [ord(c) for c in "<user>hi<assistant>"]
    assert ids == [*prompt, ord("o"), ord("k"), 0]
    assert labels == [-100] * len(prompt) + [ord("o"), ord("k"), 0]
    assert not truncated


def test_long_examples_are_skipped_or_lose_their_prompt_start() -> None:
    messages = [{"role": "user", "content": "x" * 50}]
    assert trainer.encode_example(FakeTokenizer(), messages, "answer", 20, "skip") is None
    got = trainer.encode_example(FakeTokenizer(), messages, "answer", 20, "left")
    assert got is not None
    ids, labels, truncated = got
    assert truncated and len(ids) == len(labels) == 20
    assert ids[-7:] == [*(ord(c) for c in "answer"), 0] == labels[-7:]
    assert ids[:13] == [ord(c) for c in ("x" * 50 + "<assistant>")[-13:]]
    # an answer that alone fills max_len is skipped, never cut
    assert trainer.encode_example(FakeTokenizer(), messages, "a" * 20, 20, "left") is None


def test_examples_file_is_checked_and_limited(tmp_path: Path) -> None:
    path = tmp_path / "ex.jsonl"
    rows = [{"messages": [], "answer": str(i)} for i in range(5)]
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n\n")
    assert [r["answer"] for r in trainer.load_examples(path, 3)] == ["0", "1", "2"]
    path.write_text(json.dumps({"messages": "no", "answer": "x"}) + "\n")
    with pytest.raises(ValueError, match=r"ex.jsonl:1: needs `messages`"):
        trainer.load_examples(path, None)


def test_order_is_seeded_per_epoch_and_found_from_the_step() -> None:
    epoch0 = [trainer.batch_order(5, 2, 7, step) for step in range(3)]
    epoch1 = [trainer.batch_order(5, 2, 7, step) for step in range(3, 6)]
    assert sorted(i for b in epoch0 for i in b) == sorted(i for b in epoch1 for i in b) == [
        0, 1, 2, 3, 4,
    ]  # fmt: skip
    assert [len(b) for b in epoch0] == [2, 2, 1]
    assert epoch0 != epoch1
    assert epoch0 == [trainer.batch_order(5, 2, 7, step) for step in range(3)]
    assert epoch0 != [trainer.batch_order(5, 2, 8, step) for step in range(3)]
    assert trainer.total_steps({"epochs": 3, "batch_size": 2, "max_steps": None}, 5) == 9
    assert trainer.total_steps({"epochs": 3, "batch_size": 2, "max_steps": 4}, 5) == 4
    assert [trainer.lr_at(s, 4, 1.0) for s in range(4)] == [1.0, 0.75, 0.5, 0.25]


def test_progress_lines_are_parsed_as_they_come() -> None:
    lines, rest = parse_progress(_line(1) + "\nnot json\n\n" + _line(2)[:10])
    assert [p.step for p in lines] == [1]
    assert lines[0] == TrainProgress(
        step=1, total=3, loss=1.0, lr=0.1, elapsed_s=1, eta_s=2, examples_seen=1
    )
    lines, rest = parse_progress(rest + _line(2)[10:] + "\n")
    assert [p.step for p in lines] == [2] and rest == ""


def _checkpoint(out: Path, step: int, key: str) -> None:
    folder = out / f"{trainer.CHECKPOINT_PREFIX}{step:06d}"
    folder.mkdir(parents=True)
    (folder / trainer.STATE_FILE).write_text(json.dumps({"settings_key": key, "step": step}))


def test_held_key_reads_result_then_latest_complete_checkpoint(tmp_path: Path) -> None:
    assert held_key(tmp_path) is None
    _checkpoint(tmp_path, 2, "aaa")
    _checkpoint(tmp_path, 4, "bbb")
    (tmp_path / f"{trainer.CHECKPOINT_PREFIX}000006").mkdir()  # killed while writing: ignored
    assert trainer.latest_checkpoint(tmp_path) == tmp_path / "checkpoint-000004"
    assert held_key(tmp_path) == "bbb"
    (tmp_path / trainer.RESULT_FILE).write_text(json.dumps({"settings_key": "ccc"}))
    assert held_key(tmp_path) == "ccc"
    stray = tmp_path / "stray"
    stray.mkdir()
    (stray / "adapter_model.safetensors").write_bytes(b"")
    assert held_key(stray) == "unknown"


FAKE_TRAINER = """
import json, os, signal, sys, time
from pathlib import Path
job = json.loads(Path(sys.argv[1]).read_text())
out, mode = Path(job["output_dir"]), os.environ["FAKE_TRAINER"]
(out / "spawned").write_text(mode)
progress = open(out / "progress.jsonl", "w")
if mode == "ok":
    for line in LINES:
        progress.write(line + "\\n")
        progress.flush()
    result = {"adapter_dir": str(out), "settings_key": "k", "examples": 3, "steps": 3,
              "epochs": 1.0, "train_s": 3.0, "losses": [1.0, 0.5, 0.33]}
    (out / "train_result.json").write_text(json.dumps(result))
elif mode == "slow":
    def stop(signum, frame):
        (out / "stopped").write_text(str(signum))
        sys.exit(130)
    signal.signal(signal.SIGTERM, stop)
    progress.write(LINES[0] + "\\n")
    progress.flush()
    time.sleep(60)
else:
    print("Traceback (most recent call last):\\nRuntimeError: boom", file=sys.stderr)
    sys.exit(int(mode))
"""


@pytest.fixture
def fake_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> TrainEnv:
    script = tmp_path / "fake_trainer.py"
    lines = [_line(1), _line(2), _line(3)]
    script.write_text(f"LINES = {lines!r}\n{FAKE_TRAINER}")
    monkeypatch.setattr(trainrun, "TRAINER_SCRIPT", script)
    return TrainEnv(python=Path(sys.executable), kind="own", versions={})


def test_run_job_follows_progress_and_returns_the_result(
    job: TrainJob, fake_env: TrainEnv, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_TRAINER", "ok")
    (job.output_dir).mkdir()
    (job.output_dir / trainer.PROGRESS_FILE).write_text(_line(9, 9) + "\n")  # a stale run's
    seen: list[TrainProgress] = []
    result = run_job(job, progress=seen.append, env=fake_env, poll_s=0.01)
    assert [p.step for p in seen] == [1, 2, 3]
    assert isinstance(result, TrainResult) and result.steps == 3
    assert TrainJob.read(job.output_dir / trainer.JOB_FILE) == job


@pytest.mark.parametrize(
    ("code", "error", "text"),
    [(1, TrainError, r"failed \(exit code 1\)"), (trainer.EXIT_BUSY, TrainBusyError, "another"),
     (trainer.EXIT_SETTINGS, TrainSettingsError, "other settings"),
     (trainer.EXIT_BAD_INPUT, TrainJobError, "refused its input"),
     (trainer.EXIT_INTERRUPTED, TrainError, "was stopped")],
)  # fmt: skip
def test_trainer_failures_become_clear_errors(
    job: TrainJob,
    fake_env: TrainEnv,
    monkeypatch: pytest.MonkeyPatch,
    code: int,
    error: type[Exception],
    text: str,
) -> None:
    monkeypatch.setenv("FAKE_TRAINER", str(code))
    with pytest.raises(error, match=text) as err:
        run_job(job, env=fake_env, poll_s=0.01)
    if error is TrainError:
        assert "RuntimeError: boom" in str(err.value) and "resume" in str(err.value)


def test_interrupt_stops_the_trainer_and_goes_on(
    job: TrainJob, fake_env: TrainEnv, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_TRAINER", "slow")

    def interrupt(line: TrainProgress) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_job(job, progress=interrupt, env=fake_env, poll_s=0.01)
    assert (job.output_dir / "stopped").read_text() == "15"


def test_other_settings_are_refused_unless_restarting(
    job: TrainJob, fake_env: TrainEnv, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_TRAINER", "ok")
    _checkpoint(job.output_dir, 2, "not-this-job")
    (job.output_dir / "mine.txt").write_text("kept")
    with pytest.raises(TrainSettingsError, match="other settings"):
        run_job(job, env=fake_env, poll_s=0.01)
    assert not (job.output_dir / "spawned").exists()
    run_job(job, env=fake_env, poll_s=0.01, restart=True)
    assert (job.output_dir / "spawned").exists()
    assert trainer.latest_checkpoint(job.output_dir) is None
    assert (job.output_dir / "mine.txt").read_text() == "kept"


def test_same_settings_resume_and_a_finished_job_is_not_retrained(
    job: TrainJob, fake_env: TrainEnv, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_TRAINER", "ok")
    _checkpoint(job.output_dir, 2, job.settings_key())
    run_job(job, env=fake_env, poll_s=0.01)  # resumes: the trainer is spawned on the folder
    assert (job.output_dir / "spawned").exists()
    (job.output_dir / "spawned").unlink()
    done = {"adapter_dir": str(job.output_dir), "settings_key": job.settings_key(),
            "examples": 1, "steps": 1, "epochs": 1.0, "train_s": 1.0}  # fmt: skip
    (job.output_dir / trainer.RESULT_FILE).write_text(json.dumps(done))
    assert run_job(job, env=fake_env).steps == 1
    assert not (job.output_dir / "spawned").exists()


def test_the_trainer_itself_refuses_a_checkpoint_of_other_settings(job: TrainJob) -> None:
    _checkpoint(job.output_dir, 2, "not-this-job")
    job_file = job.output_dir / trainer.JOB_FILE
    job_file.write_text(job.model_dump_json())
    assert trainer.main(["trainer.py", str(job_file)]) == trainer.EXIT_SETTINGS  # before torch


def test_the_trainer_refuses_a_busy_folder(job: TrainJob) -> None:
    job.output_dir.mkdir()
    job_file = job.output_dir / trainer.JOB_FILE
    job_file.write_text(job.model_dump_json())
    with (job.output_dir / trainer.LOCK_FILE).open("a") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        assert trainer.main(["trainer.py", str(job_file)]) == trainer.EXIT_BUSY
