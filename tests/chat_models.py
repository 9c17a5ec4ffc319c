"""Tiny random chat-template models (Llama, Mistral, Qwen2 layouts) shared by the tests."""

from __future__ import annotations

import torch
from transformers import PreTrainedTokenizerFast

SYSTEM = "You are a helpful assistant."
USER = "<image> <object_string> Describe this image in one sentence:"
TEXTS = [
    SYSTEM,
    "Describe this image in one sentence:",
    "A red dog runs in a park.",
    "A blue cat sits on a mat.",
    "dog cat assistant user system",
] * 4

LLAMA_TEMPLATE = (
    "{{ bos_token }}{% for m in messages %}{{ '<|start_header_id|>' + m['role'] + "
    "'<|end_header_id|>\n\n' + m['content'] | trim + '<|eot_id|>' }}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\n\n' }}"
    "{% endif %}"
)
MISTRAL_TEMPLATE = (  # v0.3: the system turn is prepended to the last user turn
    "{%- if messages[0]['role'] == 'system' %}{%- set system = messages[0]['content'] %}"
    "{%- set loop_messages = messages[1:] %}{%- else %}{%- set loop_messages = messages %}"
    "{%- endif %}{{- bos_token }}{%- for m in loop_messages %}{%- if m['role'] == 'user' %}"
    "{%- if loop.last and system is defined %}"
    "{{- '[INST] ' + system + '\n\n' + m['content'] + '[/INST]' }}"
    "{%- else %}{{- '[INST] ' + m['content'] + '[/INST]' }}{%- endif %}"
    "{%- else %}{{- ' ' + m['content'] | trim + eos_token }}{%- endif %}{%- endfor %}"
)
MISTRAL_V03_TEMPLATE = (  # tokenizer_config.json of mistralai/Mistral-7B-Instruct-v0.3
    '{%- if messages[0]["role"] == "system" %}'
    '{%- set system_message = messages[0]["content"] %}'
    "{%- set loop_messages = messages[1:] %}"
    "{%- else %}"
    "{%- set loop_messages = messages %}"
    "{%- endif %}"
    "{%- if not tools is defined %}"
    "{%- set tools = none %}"
    "{%- endif %}"
    '{%- set user_messages = loop_messages | selectattr("role", "equalto", "user") | list %}'
    "{{- bos_token }}"
    "{%- for message in loop_messages %}"
    '{%- if message["role"] == "user" %}'
    "{%- if tools is not none and (message == user_messages[-1]) %}"
    '{{- "[AVAILABLE_TOOLS] [" }}'
    "{%- for tool in tools %}"
    "{%- set tool = tool.function %}"
    '{{- \'{"type": "function", "function": {\' }}'
    '{%- for key, val in tool.items() if key != "return" %}'
    "{%- if val is string %}"
    "{{- '\"' + key + '\": \"' + val + '\"' }}"
    "{%- else %}"
    "{{- '\"' + key + '\": ' + val|tojson }}"
    "{%- endif %}"
    "{%- if not loop.last %}"
    '{{- ", " }}'
    "{%- endif %}"
    "{%- endfor %}"
    '{{- "}}" }}'
    "{%- if not loop.last %}"
    '{{- ", " }}'
    "{%- else %}"
    '{{- "]" }}'
    "{%- endif %}"
    "{%- endfor %}"
    '{{- "[/AVAILABLE_TOOLS]" }}'
    "{%- endif %}"
    "{%- if loop.last and system_message is defined %}"
    '{{- "[INST] " + system_message + "\\n\\n" + message["content"] + "[/INST]" }}'
    "{%- else %}"
    '{{- "[INST] " + message["content"] + "[/INST]" }}'
    "{%- endif %}"
    '{%- elif message["role"] == "assistant" %}'
    '{{- " " + message["content"]|trim + eos_token}}'
    "{%- endif %}"
    "{%- endfor %}"
)
"""Mistral-7B-Instruct-v0.3's chat template (its tool-call branches for assistant and tool
messages left out: no message here has them)."""
QWEN_TEMPLATE = (
    "{% for m in messages %}{{ '<|im_start|>' + m['role'] + '\n' + m['content'] + "
    "'<|im_end|>\n' }}{% endfor %}{% if add_generation_prompt %}"
    "{{ '<|im_start|>assistant\n' }}{% endif %}"
)

FAMILIES = {
    "llama": dict(
        specials=["<|begin_of_text|>", "<|eot_id|>", "<|start_header_id|>", "<|end_header_id|>"],
        bos="<|begin_of_text|>",
        eos="<|eot_id|>",
        template=LLAMA_TEMPLATE,
        metaspace=False,
    ),
    "mistral": dict(
        specials=["<unk>", "<s>", "</s>", "[INST]", "[/INST]"],
        bos="<s>",
        eos="</s>",
        template=MISTRAL_TEMPLATE,
        metaspace=True,
    ),
    "qwen2": dict(
        specials=["<|endoftext|>", "<|im_start|>", "<|im_end|>"],
        bos=None,
        eos="<|im_end|>",
        template=QWEN_TEMPLATE,
        metaspace=False,
    ),
}


def make_tokenizer(specials, bos, eos, template, metaspace) -> PreTrainedTokenizerFast:
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    if metaspace:  # SentencePiece-like, as Llama 2 / Mistral tokenizers are
        tk = Tokenizer(models.BPE(unk_token="<unk>"))
        tk.pre_tokenizer = pre_tokenizers.Metaspace(prepend_scheme="first")
        tk.decoder = decoders.Metaspace(prepend_scheme="first")
        alphabet = []
    else:  # byte-level, as Llama 3 / Qwen2 tokenizers are
        tk = Tokenizer(models.BPE())
        tk.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
        tk.decoder = decoders.ByteLevel()
        alphabet = pre_tokenizers.ByteLevel.alphabet()
    trainer = trainers.BpeTrainer(
        vocab_size=300, special_tokens=specials, initial_alphabet=alphabet, show_progress=False
    )
    tk.train_from_iterator(TEXTS, trainer)
    return PreTrainedTokenizerFast(
        tokenizer_object=tk,
        bos_token=bos,
        eos_token=eos,
        unk_token="<unk>" if metaspace else None,
        chat_template=template,
    )


def make_model(family: str, vocab_size: int, eos_id: int, bos_id: int | None):
    from transformers import (
        LlamaConfig,
        LlamaForCausalLM,
        MistralConfig,
        MistralForCausalLM,
        Qwen2Config,
        Qwen2ForCausalLM,
    )

    config_cls, model_cls = {
        "llama": (LlamaConfig, LlamaForCausalLM),
        "mistral": (MistralConfig, MistralForCausalLM),
        "qwen2": (Qwen2Config, Qwen2ForCausalLM),
    }[family]
    torch.manual_seed(0)
    config = config_cls(
        vocab_size=vocab_size,
        hidden_size=16,
        intermediate_size=32,
        num_hidden_layers=1,
        num_attention_heads=2,
        num_key_value_heads=1,
        max_position_embeddings=256,
        eos_token_id=eos_id,
        bos_token_id=bos_id,
        pad_token_id=eos_id,
    )
    return model_cls(config)
