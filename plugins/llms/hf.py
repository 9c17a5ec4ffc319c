"""``gpt2``: a transformers causal LM by hub name or local folder."""

from __future__ import annotations

from eegbench.api import BuildContext, CausalLM, load_pretrained


def build_hf(
    ctx: BuildContext,
    path: str,
    download: bool,
    dtype: str,
    device_map: str | None,
    quantization: str,
) -> CausalLM:
    return load_pretrained(
        path, download=download, dtype=dtype, device_map=device_map, quantization=quantization
    )
