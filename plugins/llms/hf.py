"""``hf``: any transformers causal LM by hub name or local folder; ``gpt2``: GPT-2 only."""

from __future__ import annotations

from eegbench.api import BuildContext, CausalLM, ConfigError, load_pretrained


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


def build_gpt2(ctx: BuildContext, path: str, **params) -> CausalLM:
    """``build_hf``, refusing a checkpoint that is not GPT-2."""
    llm = build_hf(ctx, path, **params)
    model_type = getattr(llm.model.config, "model_type", None)
    if model_type != "gpt2":
        raise ConfigError(
            f"llm=gpt2 loaded a {model_type!r} model from {path!r}, not GPT-2; use "
            f"llm=hf llm.path={path} for any other causal LM."
        )
    return llm
