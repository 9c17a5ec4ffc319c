"""Prompt batches: where the EEG and label embeddings go, which tokens carry loss, padding."""

from __future__ import annotations

import pytest
import torch
from eegbench_plugins.llms.tiny import EOS
from transformers import GPT2Config, GPT2LMHeadModel, GPT2TokenizerFast

from eegbench.contract.llm import CausalLM
from eegbench.train.prompting import IGNORE, INSTRUCTION, build_batch


@pytest.fixture(scope="module")
def llm(tmp_path_factory):
    from tokenizers import ByteLevelBPETokenizer

    texts = [
        f" {w}{INSTRUCTION} A {c} {w} in a park." for w in ("dog", "cat") for c in ("red", "blue")
    ]
    out = tmp_path_factory.mktemp("tok")
    bpe = ByteLevelBPETokenizer()
    bpe.train_from_iterator(texts * 5, vocab_size=300, special_tokens=[EOS])
    bpe.save_model(str(out))
    tok = GPT2TokenizerFast.from_pretrained(str(out), eos_token=EOS, bos_token=EOS, unk_token=EOS)
    torch.manual_seed(0)
    model = GPT2LMHeadModel(
        GPT2Config(
            vocab_size=len(tok),
            n_positions=64,
            n_embd=16,
            n_layer=1,
            n_head=2,
            eos_token_id=tok.eos_token_id,
        )
    )
    return CausalLM(model, tok)


def test_slots_receive_the_soft_tokens_and_labels_their_token_embeddings(llm):
    soft = torch.randn(2, 2, llm.d_model)
    b = build_batch(llm, soft, ["dog", "cat"], ["A red dog.", "A blue cat in a park."])
    assert b.inputs_embeds.shape[:2] == b.attention_mask.shape == b.labels.shape
    # position 0 is BOS, positions 1..2 the <image> slot
    assert torch.equal(b.inputs_embeds[:, 1:3], soft)
    dog = llm.encode(" dog")
    emb = llm.input_embeddings(torch.tensor(dog))
    assert torch.allclose(b.inputs_embeds[0, 3 : 3 + len(dog)], emb)
    # right padding: row 0 is shorter
    assert b.attention_mask[0, -1] == 0 and b.attention_mask[1, -1] == 1


def test_prompt_is_masked_and_caption_carries_loss(llm):
    cap = "A red dog."
    b = build_batch(llm, torch.zeros(1, 1, llm.d_model), ["dog"], [cap], mask_prompt=True)
    target = llm.encode(" " + cap) + [llm.eos_token_id]
    kept = b.labels[0][b.labels[0] != IGNORE].tolist()
    assert kept == target
    unmasked = build_batch(llm, torch.zeros(1, 1, llm.d_model), ["dog"], [cap], mask_prompt=False)
    kept = unmasked.labels[0][unmasked.labels[0] != IGNORE].tolist()
    prompt = llm.encode(" dog" + INSTRUCTION)
    assert kept == prompt + target  # everything but BOS and the soft slot


def test_no_slot_and_no_label_variants_and_left_padding(llm):
    only_obj = build_batch(llm, None, ["dog"])
    with_slot = build_batch(llm, torch.zeros(1, 3, llm.d_model), ["dog"])
    assert with_slot.inputs_embeds.shape[1] == only_obj.inputs_embeds.shape[1] + 3
    no_label = build_batch(llm, torch.zeros(1, 1, llm.d_model), [None])
    assert no_label.inputs_embeds.shape[1] == 2 + len(llm.encode(INSTRUCTION))
    left = build_batch(llm, None, ["dog", "cat in a park"], padding_side="left")
    assert left.attention_mask[0, 0] == 0 and left.attention_mask[0, -1] == 1
    assert left.labels is None


def test_generation_is_batched_consistently(llm):
    from eegbench.train.generation import generate_captions
    from eegbench.train.model import Projector

    torch.manual_seed(0)
    proj = Projector(4, llm.d_model)
    emb = torch.randn(3, 4)
    labels = ["dog", "cat in a park", "dog"]
    batched = generate_captions(llm, proj, emb, labels, batch_size=3, max_new_tokens=5)
    single = [
        generate_captions(llm, proj, emb[i : i + 1], [labels[i]], max_new_tokens=5)[0]
        for i in range(3)
    ]
    assert batched == single  # left padding does not change greedy outputs


def test_generation_hands_the_lm_head_contiguous_rows_and_removes_its_hook(llm):
    """After the prompt, generation gives the LM head the last position of every row; a strided
    view there made the batched matmul 8x slower, so ``generate`` passes a contiguous copy."""
    seen: list[bool] = []
    head = llm.model.get_output_embeddings()
    spy = head.register_forward_hook(lambda m, args, out: seen.append(args[0].is_contiguous()))
    try:
        batch = build_batch(llm, None, ["dog", "cat", "dog"], padding_side="left")
        llm.generate(batch.inputs_embeds, batch.attention_mask, max_new_tokens=3)
    finally:
        spy.remove()
    assert seen and all(seen)
    assert not head._forward_pre_hooks  # nothing left behind for training
    prompt = llm.model(inputs_embeds=batch.inputs_embeds, attention_mask=batch.attention_mask)
    assert prompt.logits.shape[1] == batch.inputs_embeds.shape[1]  # every position, as before


BEAMS = {"num_beams": 3, "no_repeat_ngram_size": 2, "length_penalty": 0.7}


def test_beam_search_is_batched_consistently(llm):
    from eegbench.config import GenerationSettings
    from eegbench.train.generation import generate_captions
    from eegbench.train.model import Projector

    torch.manual_seed(0)
    proj = Projector(4, llm.d_model)
    emb = torch.randn(4, 4)
    labels = ["dog", "cat in a park", "dog", None]
    beams = GenerationSettings(**BEAMS)
    args = {"max_new_tokens": 8, "repetition_penalty": 1.1}
    batched = generate_captions(llm, proj, emb, labels, batch_size=4, generation=beams, **args)
    single = [
        generate_captions(llm, proj, emb[i : i + 1], [labels[i]], generation=beams, **args)[0]
        for i in range(4)
    ]
    assert batched == single  # left padding does not change what the beams find
    greedy = generate_captions(llm, proj, emb, labels, batch_size=4, **args)
    assert greedy != batched  # the settings reached the decoder


def test_generation_config_is_greedy_by_default_and_takes_the_settings(llm):
    from eegbench.config import GenerationSettings

    greedy = llm.generation_config(100, 1.1, GenerationSettings().as_generation_config())
    assert (greedy.do_sample, greedy.num_beams, greedy.repetition_penalty) == (False, 1, 1.1)
    assert greedy.max_new_tokens == 100 and greedy.eos_token_id == llm.stop_token_ids
    sampled = llm.generation_config(
        20,
        1.0,
        GenerationSettings(do_sample=True, top_p=0.9, temperature=0.7).as_generation_config(),
    )
    assert (sampled.do_sample, sampled.top_p, sampled.temperature) == (True, 0.9, 0.7)
    beams = llm.generation_config(20, 1.0, BEAMS)
    assert (beams.num_beams, beams.no_repeat_ngram_size, beams.length_penalty) == (3, 2, 0.7)
