"""Chat-template prompts on tiny random Llama-, Mistral- and Qwen2-architecture models.

Each family gets a small BPE tokenizer trained here, with that family's special tokens and a chat
template in its style. The spliced layout must equal what ``apply_chat_template`` gives with the
EEG slot in place of ``<image>``.
"""

from __future__ import annotations

import pytest
import torch

from eegbench.config import PromptConfig
from eegbench.contract.errors import ConfigError
from eegbench.contract.llm import CausalLM
from eegbench.train.prompting import IGNORE, build_batch, uses_chat
from tests.chat_models import (
    FAMILIES,
    SYSTEM,
    USER,
    make_model,
    make_tokenizer,
)


@pytest.fixture(scope="module", params=list(FAMILIES))
def family_llm(request):
    spec = FAMILIES[request.param]
    tok = make_tokenizer(**spec)
    model = make_model(request.param, len(tok), tok.eos_token_id, tok.bos_token_id)
    return request.param, CausalLM(model, tok, name=f"tiny-{request.param}")


def expected_layout(tok, label: str | None, n_soft: int, system: str = SYSTEM) -> list[int]:
    """``apply_chat_template`` of the turns with ``n_soft`` slot tokens in place of <image>."""
    ref = make_tokenizer(**FAMILIES[_family_of(tok)])
    ref.add_special_tokens({"additional_special_tokens": ["<image>"]})
    user = USER.replace("<object_string>", label or "").replace(
        "<image>", "<image>" if n_soft else ""
    )
    user = " ".join(user.split()).replace("<image>", "<image>" * n_soft)
    messages = ([{"role": "system", "content": system}] if system else []) + [
        {"role": "user", "content": user}
    ]
    ids = ref.apply_chat_template(
        messages, tokenize=True, add_generation_prompt=True, return_dict=True
    )["input_ids"]
    slot = ref.convert_tokens_to_ids("<image>")
    return [-1 if i == slot else i for i in ids]


def _family_of(tok) -> str:
    return next(f for f, s in FAMILIES.items() if s["template"] == tok.chat_template)


@pytest.mark.parametrize("n_soft", [1, 3])
def test_spliced_layout_equals_the_chat_template_with_the_slot(family_llm, n_soft):
    family, llm = family_llm
    soft = torch.randn(2, n_soft, llm.d_model)
    b = build_batch(llm, soft, ["dog", "cat"], padding_side="left")
    for row, label in enumerate(["dog", "cat"]):
        expected = expected_layout(llm.tokenizer, label, n_soft)
        keep = b.attention_mask[row].bool()
        ids = b.input_ids[row][keep].tolist()
        slots = b.slots[row][keep].tolist()
        got = [-1 if s else i for i, s in zip(ids, slots)]
        assert got == expected
        assert torch.equal(b.inputs_embeds[row][keep][b.slots[row][keep]], soft[row])
        other = b.inputs_embeds[row][keep][~b.slots[row][keep]]
        assert torch.equal(other, llm.input_embeddings(torch.tensor(ids)[~torch.tensor(slots)]))
    bos = llm.tokenizer.bos_token_id
    first = b.input_ids[0][b.attention_mask[0].bool()].tolist()
    if family == "qwen2":  # no BOS token at all
        assert bos is None and first[0] == llm.tokenizer.convert_tokens_to_ids("<|im_start|>")
    else:  # the template's BOS, once
        assert first[0] == bos and first.count(bos) == 1


def test_no_label_and_no_slot_variants_follow_the_template(family_llm):
    _, llm = family_llm
    no_label = build_batch(llm, torch.zeros(1, 1, llm.d_model), [None])
    assert [-1 if s else i for i, s in zip(no_label.input_ids[0].tolist(), no_label.slots[0])] == (
        expected_layout(llm.tokenizer, None, 1)
    )
    only_obj = build_batch(llm, None, ["dog"])
    assert not only_obj.slots.any()
    assert only_obj.input_ids[0].tolist() == expected_layout(llm.tokenizer, "dog", 0)


def test_caption_follows_the_generation_prompt_and_only_it_carries_loss(family_llm):
    _, llm = family_llm
    cap = "A red dog runs in a park."
    soft = torch.zeros(1, 1, llm.d_model)
    b = build_batch(llm, soft, ["dog"], [cap], mask_prompt=True)
    n_prompt = len(expected_layout(llm.tokenizer, "dog", 1))
    target = llm.encode(cap) + [llm.eos_token_id]
    assert b.input_ids[0, n_prompt:].tolist() == target
    assert b.labels[0, :n_prompt].eq(IGNORE).all()
    assert b.labels[0, n_prompt:].tolist() == target
    unmasked = build_batch(llm, soft, ["dog"], [cap], mask_prompt=False)
    kept = unmasked.labels[0] != IGNORE
    assert not kept[0] and not kept[unmasked.slots[0]].any()
    assert kept.sum() == len(unmasked.input_ids[0]) - 2  # all but position 0 and the slot
    assert torch.isfinite(llm.loss(b.inputs_embeds, b.attention_mask, b.labels))


def test_style_switches_and_errors(family_llm):
    _, llm = family_llm
    assert uses_chat(llm) and uses_chat(llm, PromptConfig(style="chat"))
    assert not uses_chat(llm, PromptConfig(style="plain"))
    plain = build_batch(llm, None, ["dog"], prompt=PromptConfig(style="plain"))
    assert plain.input_ids[0, 0] == llm.bos_token_id
    no_system = build_batch(
        llm, torch.zeros(1, 1, llm.d_model), ["dog"], prompt=PromptConfig(system="")
    )
    if _family_of(llm.tokenizer) != "mistral":
        assert (
            no_system.input_ids.shape[1]
            < build_batch(llm, torch.zeros(1, 1, llm.d_model), ["dog"]).input_ids.shape[1]
        )
    with pytest.raises(ConfigError, match="exactly once"):
        build_batch(llm, torch.zeros(1, 1, llm.d_model), ["dog"], prompt=PromptConfig(user="hi"))


def test_plain_lm_rejects_chat_style():
    from transformers import GPT2Config, GPT2LMHeadModel

    tok = make_tokenizer(["<|endoftext|>"], "<|endoftext|>", "<|endoftext|>", None, False)
    model = GPT2LMHeadModel(GPT2Config(vocab_size=len(tok), n_embd=8, n_layer=1, n_head=2))
    llm = CausalLM(model, tok)
    assert not uses_chat(llm)
    with pytest.raises(ConfigError, match="no chat template"):
        uses_chat(llm, PromptConfig(style="chat"))


def test_generation_with_a_chat_model_matches_one_by_one():
    from eegbench.train.generation import generate_captions
    from eegbench.train.model import Projector

    spec = FAMILIES["qwen2"]
    tok = make_tokenizer(**spec)
    llm = CausalLM(make_model("qwen2", len(tok), tok.eos_token_id, None), tok)
    torch.manual_seed(1)
    proj = Projector(4, llm.d_model).eval()
    emb = torch.randn(3, 4)
    labels = ["dog", "cat", None]
    batched = generate_captions(llm, proj, emb, labels, batch_size=3, max_new_tokens=6)
    single = [
        generate_captions(llm, proj, emb[i : i + 1], [labels[i]], max_new_tokens=6)[0]
        for i in range(3)
    ]
    assert batched == single
    assert all(isinstance(c, str) for c in batched) and any(batched)


def test_inspect_token_table_follows_the_chat_layout(family_llm):
    from eegbench.tools.diagnostics import token_table

    _, llm = family_llm
    n_soft, label = 2, "piano"
    soft = torch.randn(1, n_soft, llm.d_model)
    rows = token_table(llm, soft, label)
    layout = expected_layout(llm.tokenizer, label, n_soft)
    assert [r["token_id"] if r["segment"] != "eeg" else -1 for r in rows] == [
        -1 if t == -1 else t for t in layout
    ]
    assert [r["segment"] for r in rows].count("eeg") == n_soft
    assert "".join(r["token"] for r in rows if r["segment"] == "label").strip() == label
    for j, r in enumerate(r for r in rows if r["segment"] == "eeg"):
        assert r["norm_after"] == pytest.approx(float(soft[0, j].norm()), rel=1e-4)
