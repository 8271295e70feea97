"""Steward's LoRA trainer, run by the training environment's interpreter:
``python -P trainer.py OUTPUT_DIR/train_job.json``.

Self-contained on purpose: stdlib at import time, then torch + transformers + peft inside
:func:`main`; nothing of Steward's (that environment has none). The framework imports this file
only for its stdlib helpers (:func:`settings_key`, :func:`encode_example`, file names).

The output folder holds ``train_job.json``, ``progress.jsonl`` (this run's progress, one JSON
line per step or per ``progress_every`` steps), ``checkpoint-NNNNNN/`` (adapter weights,
optimizer and RNG state; ``state.json`` written last marks it complete), and at the end peft's
``adapter_config.json`` + ``adapter_model.safetensors``, ``steward_adapter.json`` (the manifest)
and ``train_result.json`` (written last: the training is finished). Diagnostics go to stderr.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import math
import os
import random
import shutil
import signal
import sys
import time
from pathlib import Path
from typing import Any

JOB_FILE = "train_job.json"
PROGRESS_FILE = "progress.jsonl"
RESULT_FILE = "train_result.json"
MANIFEST_FILE = "steward_adapter.json"
LOCK_FILE = "train.lock"
STATE_FILE = "state.json"
CHECKPOINT_PREFIX = "checkpoint-"
KEY_FIELDS = (
    "version", "lora", "learning_rate", "epochs", "max_steps", "max_examples", "max_len",
    "truncate", "batch_size", "max_grad_norm", "seed", "dtype",
)  # fmt: skip
"""Job fields that change the weights; with the digests of the examples and of the base model's
config they make the settings key. Names, paths, device and checkpoint/progress cadence do not."""
EXIT_BUSY, EXIT_SETTINGS, EXIT_BAD_INPUT, EXIT_INTERRUPTED = 3, 4, 5, 130


def file_sha256(path: str | Path) -> str:
    """Hex sha256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def settings_key(job: dict[str, Any]) -> str:
    """A digest of everything that shapes the weights: a checkpoint made under another key is
    refused, never mixed in."""
    keyed = {name: job.get(name) for name in KEY_FIELDS}
    keyed["examples_sha256"] = file_sha256(job["examples_file"])
    keyed["base_config_sha256"] = file_sha256(Path(job["base_model_dir"]) / "config.json")
    text = json.dumps(keyed, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def encode_example(
    tokenizer: Any, messages: list[dict[str, Any]], answer: str, max_len: int, truncate: str
) -> tuple[list[int], list[int], bool] | None:
    """``(input_ids, labels, truncated)`` for one example, or None when it must be skipped.

    The prompt is rendered as vLLM's chat endpoint renders it (the chat template with the
    generation prompt, tokenized without added special tokens); the answer follows, then EOS.
    Labels are -100 on the prompt: the loss falls on the answer tokens only. An example longer
    than ``max_len`` is skipped, or with ``truncate == "left"`` its prompt loses its beginning
    (never the answer)."""
    text = tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
    prompt = list(tokenizer.encode(text, add_special_tokens=False))
    reply = [*tokenizer.encode(answer, add_special_tokens=False), tokenizer.eos_token_id]
    truncated = False
    if len(prompt) + len(reply) > max_len:
        room = max_len - len(reply)
        if truncate != "left" or room < 1:
            return None
        prompt, truncated = prompt[-room:], True
    return prompt + reply, [-100] * len(prompt) + reply, truncated


def load_examples(path: str | Path, limit: int | None) -> list[dict[str, Any]]:
    """The examples file's objects (``messages`` + ``answer``), the first ``limit`` of them."""
    found: list[dict[str, Any]] = []
    with open(path, encoding="utf-8") as handle:
        for number, line in enumerate(handle, 1):
            if not line.strip():
                continue
            item = json.loads(line)
            if not isinstance(item, dict) or not isinstance(item.get("messages"), list):
                item = {}
            if not isinstance(item.get("answer"), str):
                raise ValueError(f"{path}:{number}: needs `messages` (a list) and `answer` (text)")
            found.append(item)
            if limit is not None and len(found) >= limit:
                break
    return found


def batch_order(count: int, batch_size: int, seed: int, step: int) -> list[int]:
    """The example indices of step ``step`` (0-based): each epoch is a seeded shuffle cut into
    batches, so a resumed run finds its place from the step number alone."""
    per_epoch = math.ceil(count / batch_size)
    epoch, index = divmod(step, per_epoch)
    order = list(range(count))
    random.Random(seed * 100_003 + epoch).shuffle(order)
    return order[index * batch_size : (index + 1) * batch_size]


def total_steps(job: dict[str, Any], count: int) -> int:
    """Steps of the whole training: every epoch's batches, capped by ``max_steps``."""
    total = int(job["epochs"]) * math.ceil(count / int(job["batch_size"]))
    return min(total, int(job["max_steps"])) if job.get("max_steps") else total


def lr_at(step: int, total: int, peak: float) -> float:
    """Linear decay from ``peak`` at step 0 towards 0 at ``total``."""
    return peak * (1.0 - step / max(total, 1))


def latest_checkpoint(out: Path) -> Path | None:
    """The highest-step complete checkpoint (one whose ``state.json`` exists), if any."""
    done = sorted(p for p in out.glob(f"{CHECKPOINT_PREFIX}*") if (p / STATE_FILE).exists())
    return done[-1] if done else None


def write_json(path: Path, data: Any) -> None:
    """Write JSON atomically (a temporary file, then a rename)."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def _window_mean(values: list[float], first: bool) -> float | None:
    if not values:
        return None
    size = max(1, min(10, len(values) // 4))
    part = values[:size] if first else values[-size:]
    return round(sum(part) / len(part), 6)


def _log(message: str) -> None:
    print(f"[trainer] {message}", file=sys.stderr, flush=True)


def _lock(out: Path) -> Any:
    """``train.lock``, locked with this pid in it (closing it unlocks); None when taken."""
    lock = open(out / LOCK_FILE, "a+")  # noqa: SIM115 - the caller closes it
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        lock.close()
        return None
    lock.truncate(0)
    lock.write(f"{os.getpid()}\n")
    lock.flush()
    return lock


def _encode_all(tokenizer: Any, job: dict[str, Any]) -> tuple[list[Any], int, int]:
    """The examples as ``(ids, labels, truncated)``, with the skipped and truncated counts."""
    encoded, skipped, truncated = [], 0, 0
    for item in load_examples(job["examples_file"], job.get("max_examples")):
        got = encode_example(
            tokenizer, item["messages"], item["answer"], job["max_len"], job["truncate"]
        )
        if got is None:
            skipped += 1
        else:
            truncated += got[2]
            encoded.append(got)
    return encoded, skipped, truncated


def _collate(torch: Any, batch: list[Any], pad_id: int, device: Any) -> dict[str, Any]:
    """Right-pad a batch into tensors; the padding is masked out of attention and loss."""
    width = max(len(ids) for ids, _, _ in batch)
    rows = [(ids, labels, width - len(ids)) for ids, labels, _ in batch]
    columns = {
        "input_ids": [ids + [pad_id] * pad for ids, _, pad in rows],
        "labels": [labels + [-100] * pad for _, labels, pad in rows],
        "attention_mask": [[1] * len(ids) + [0] * pad for ids, _, pad in rows],
    }
    return {name: torch.tensor(value, device=device) for name, value in columns.items()}


def _manifest(
    job: dict[str, Any], count: int, steps: int, seen: int, losses: list[float], train_s: float
) -> dict[str, Any]:
    """``steward_adapter.json``: the fields of ``local.adapters.AdapterManifest``."""
    return {
        "format": "steward-adapter",
        "version": 1,
        "name": job["adapter_name"],
        "task_token": job["task_token"],
        "base_model": job["base_model"],
        "base_model_sha256": file_sha256(Path(job["base_model_dir"]) / "config.json"),
        "prompt_style": job["prompt_style"],
        "examples": count,
        "steps": steps,
        "epochs": round(seen / count, 4),
        "loss_first": _window_mean(losses, True),
        "loss_last": _window_mean(losses, False),
        "rank": job["lora"]["r"],
        "trained_at": time.time(),
        "train_s": train_s,
        "sources": list(job.get("sources", [])),
    }


class _Stop:
    """SIGTERM / SIGINT: finish the step, checkpoint, exit; a second signal stops at once."""

    def __init__(self) -> None:
        self.asked = False
        signal.signal(signal.SIGTERM, self)
        signal.signal(signal.SIGINT, self)

    def __call__(self, signum: int, frame: Any) -> None:
        if self.asked:
            raise KeyboardInterrupt
        self.asked = True
        _log(f"signal {signum}: stopping after this step, with a checkpoint")


def main(argv: list[str]) -> int:
    """Train the job described by ``argv[1]``; return the process exit code."""
    job: dict[str, Any] = json.loads(Path(argv[1]).read_text(encoding="utf-8"))
    out = Path(job["output_dir"])
    out.mkdir(parents=True, exist_ok=True)
    lock = _lock(out)
    if lock is None:
        _log(f"another trainer is running on {out}")
        return EXIT_BUSY
    with lock:
        if job.get("version") != 1:
            _log(f"job version {job.get('version')} is not 1: update Steward's trainer")
            return EXIT_BAD_INPUT
        return _train(job, out)


def _train(job: dict[str, Any], out: Path) -> int:
    key = settings_key(job)
    checkpoint = latest_checkpoint(out)
    state: dict[str, Any] = {}
    if checkpoint is not None:
        state = json.loads((checkpoint / STATE_FILE).read_text(encoding="utf-8"))
        if state.get("settings_key") != key:
            _log(f"{checkpoint.name} has settings key {state.get('settings_key')}, not {key}")
            return EXIT_SETTINGS
    stop = _Stop()

    import torch
    from peft import LoraConfig, get_peft_model, set_peft_model_state_dict
    from safetensors.torch import load_file
    from transformers import AutoModelForCausalLM, AutoTokenizer

    torch.set_num_threads(int(job.get("threads") or os.cpu_count() or 1))
    cuda = job["device"] == "cuda" or (job["device"] == "auto" and torch.cuda.is_available())
    device = torch.device("cuda" if cuda else "cpu")
    dtype = job["dtype"] if job["dtype"] != "auto" else ("bfloat16" if cuda else "float32")
    tokenizer = AutoTokenizer.from_pretrained(job["base_model_dir"])
    pad_id = tokenizer.eos_token_id if tokenizer.pad_token_id is None else tokenizer.pad_token_id
    try:
        encoded, skipped, truncated = _encode_all(tokenizer, job)
    except (OSError, ValueError) as exc:
        _log(f"cannot read the examples: {exc}")
        return EXIT_BAD_INPUT
    _log(f"{len(encoded)} examples ({skipped} skipped, {truncated} truncated), {device} {dtype}")
    if not encoded:
        _log(f"no example fits in max_len={job['max_len']} tokens")
        return EXIT_BAD_INPUT
    total = total_steps(job, len(encoded))

    torch.manual_seed(int(job["seed"]))
    model = AutoModelForCausalLM.from_pretrained(job["base_model_dir"], dtype=getattr(torch, dtype))
    model.config.use_cache = False
    lora = job["lora"]
    model = get_peft_model(
        model,
        LoraConfig(
            r=lora["r"],
            lora_alpha=lora["alpha"],
            lora_dropout=lora["dropout"],
            target_modules=list(lora["target_modules"]),
            task_type="CAUSAL_LM",
        ),
    ).to(device)
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=job["learning_rate"], weight_decay=0.0)
    step, seen = int(state.get("step", 0)), int(state.get("examples_seen", 0))
    losses: list[float] = list(state.get("losses", []))
    prior_s = float(state.get("elapsed_s", 0.0))
    if checkpoint is not None:
        set_peft_model_state_dict(model, load_file(str(checkpoint / "adapter_model.safetensors")))
        extra = torch.load(checkpoint / "trainer.pt", weights_only=True)
        optimizer.load_state_dict(extra["optimizer"])
        torch.set_rng_state(extra["rng"])
        _log(f"resuming from {checkpoint.name} (step {step} of {total})")

    def save_checkpoint() -> None:
        folder = out / f"{CHECKPOINT_PREFIX}{step:06d}"
        shutil.rmtree(folder, ignore_errors=True)
        model.save_pretrained(folder)
        extra = {"optimizer": optimizer.state_dict(), "rng": torch.get_rng_state()}
        torch.save(extra, folder / "trainer.pt")
        elapsed = prior_s + time.monotonic() - started
        done = {"step": step, "losses": losses, "examples_seen": seen, "elapsed_s": elapsed}
        write_json(folder / STATE_FILE, {"settings_key": key, **done})
        for old in out.glob(f"{CHECKPOINT_PREFIX}*"):
            if old != folder:
                shutil.rmtree(old, ignore_errors=True)

    model.train()
    started, first_step, window = time.monotonic(), step, []
    progress = open(out / PROGRESS_FILE, "w", encoding="utf-8")  # noqa: SIM115
    while step < total:
        order = batch_order(len(encoded), job["batch_size"], job["seed"], step)
        lr = lr_at(step, total, job["learning_rate"])
        for group in optimizer.param_groups:
            group["lr"] = lr
        loss = model(**_collate(torch, [encoded[i] for i in order], pad_id, device)).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, job["max_grad_norm"])
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        step, seen = step + 1, seen + len(order)
        losses.append(round(float(loss.detach()), 6))
        window.append(losses[-1])
        if step % job["progress_every"] == 0 or step in (total, first_step + 1) or stop.asked:
            spent = time.monotonic() - started
            line = {
                "step": step,
                "total": total,
                "loss": round(sum(window) / len(window), 6),
                "lr": lr,
                "elapsed_s": round(prior_s + spent, 3),
                "eta_s": round(spent / (step - first_step) * (total - step), 3),
                "examples_seen": seen,
            }
            progress.write(json.dumps(line) + "\n")
            progress.flush()
            window = []
        every = job["checkpoint_every"]
        if step < total and (stop.asked or (every and step % every == 0)):
            save_checkpoint()
        if stop.asked and step < total:
            _log(f"stopped at step {step}; run the same job again to resume")
            progress.close()
            return EXIT_INTERRUPTED
    progress.close()

    train_s = round(prior_s + time.monotonic() - started, 3)
    model.save_pretrained(out)
    manifest = _manifest(job, len(encoded), step, seen, losses, train_s)
    write_json(out / MANIFEST_FILE, manifest)
    same = ("examples", "steps", "epochs", "loss_first", "loss_last", "train_s")
    result = {"adapter_dir": str(out), "settings_key": key, "skipped": skipped, "losses": losses}
    result |= {"truncated": truncated, "resumed_from_step": first_step}
    write_json(out / RESULT_FILE, result | {name: manifest[name] for name in same})
    for old in out.glob(f"{CHECKPOINT_PREFIX}*"):
        shutil.rmtree(old, ignore_errors=True)
    _log(f"done: {step} steps in {train_s:.1f} s, adapter in {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
