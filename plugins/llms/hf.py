"""``hf``: any transformers causal LM by hub name or local folder; ``gpt2``: GPT-2 only."""

from __future__ import annotations

from eegbench_plugins.llms.hf_loading import load_pretrained, random_pretrained

from eegbench.api import BuildContext, CausalLM, ConfigError, warn


def build_hf(
    ctx: BuildContext,
    path: str,
    revision: str | None,
    download: bool,
    dtype: str,
    device_map: str | None,
    quantization: str,
    random_weights: bool = False,
) -> CausalLM:
    if random_weights:
        if quantization != "none" or device_map:
            raise ConfigError(
                "llm.random_weights builds the model in memory: drop llm.quantization and "
                "llm.device_map."
            )
        llm, line = random_pretrained(path, ctx.seed, dtype)
        warn(f"llm {path}: {line}; a rehearsal, its numbers mean nothing")
        return llm
    return load_pretrained(
        path,
        download=download,
        dtype=dtype,
        device_map=device_map,
        quantization=quantization,
        revision=revision,
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
