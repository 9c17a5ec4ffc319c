"""Thought2Text's code paths, re-done step by step from its code (datautils.py, model.py,
finetune_llm.py, inference.py, inference_chance.py, inference_chance2.py) and compared with
what ``--config thought2text`` sets."""

from __future__ import annotations

import copy
import re
from pathlib import Path

import numpy as np
import pytest
import torch

from eegbench.config import PromptConfig, build_config
from eegbench.contract.llm import CausalLM
from eegbench.train.encoder_passes import train_mode_passes
from eegbench.train.generation import after_label, generate_with_literal_slot
from eegbench.train.model import EEGClassifier
from eegbench.train.prompting import IGNORE, build_batch, thought2text_sequence
from tests.chat_models import FAMILIES, MISTRAL_V03_TEMPLATE, SYSTEM, make_model, make_tokenizer

T2T = PromptConfig(style="chat", render="thought2text")
T2T_USER = "<image> <label_string> Describe this image in one sentence:"  # datautils.py
DOC = Path(__file__).resolve().parents[1] / "docs" / "reproducing-thought2text.md"


@pytest.fixture(scope="module")
def mistral() -> CausalLM:
    """A Mistral-v0.3-architecture LM with a SentencePiece-like tokenizer and v0.3's template."""
    tok = make_tokenizer(**FAMILIES["mistral"])
    tok.chat_template = MISTRAL_V03_TEMPLATE
    model = make_model("mistral", len(tok), tok.eos_token_id, tok.bos_token_id)
    return CausalLM(model, tok, name="mistral-v0.3")


def _their_side(tok, text: str, pad: bool) -> list[int]:
    """datautils.py tokenizes a side (padding to max_length on the left with pad = EOS in
    training), then model.py keeps ``input_ids[i, -effective_length:]``, the effective length
    counting ids that are not the pad (EOS)."""
    tok.pad_token_id, tok.padding_side = tok.eos_token_id, "left"
    kw = dict(padding="max_length", max_length=512) if pad else {}
    ids = tok(text, add_special_tokens=False, truncation=True, return_tensors="pt", **kw)
    ids = ids.input_ids.squeeze(0)
    effective = int((ids != tok.eos_token_id).sum())
    return ids[-effective:].tolist()


def test_training_sequence_is_thought2texts(mistral):
    tok, label, caption = mistral.tokenizer, "dog", "A red dog runs in a park."
    # datautils.py EEGFineTuningDataset.__getitem__, step by step
    messages = [
        {"role": "system", "content": "You are a helpful assistant."},
        {"role": "user", "content": T2T_USER},
        {"role": "assistant", "content": caption},
    ]
    text = tok.apply_chat_template(messages, tokenize=False, add_generation_prompt=False)
    assert SYSTEM not in text  # Mistral-v0.3's template drops the system turn here
    prefix, suffix = text.replace("<label_string>", label).split("<image>")
    theirs = _their_side(tok, prefix, pad=True), _their_side(tok, suffix, pad=True)
    seq = thought2text_sequence(mistral, T2T, 1, label, caption)
    slot = seq.slot.index(True)
    assert seq.ids[:slot] == theirs[0] and seq.ids[slot + 1 :] == theirs[1]
    assert sum(seq.slot) == 1
    # the pad = EOS slice: the suffix loses its first token and keeps the reply's EOS
    whole = tok(suffix, add_special_tokens=False).input_ids
    assert theirs[1] == whole[1:] and theirs[1][-1] == tok.eos_token_id
    assert seq.ids[0] == tok.bos_token_id  # "<s>" in the rendered text is the BOS token


def test_inference_prompt_is_thought2texts(mistral):
    tok, label = mistral.tokenizer, "cat"
    messages = [
        {"role": "system", "content": "You are a helpful assistant."},
        {"role": "user", "content": T2T_USER},
    ]
    text = tok.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    assert SYSTEM in text  # ... while inference's render keeps it
    prefix, suffix = text.replace("<label_string>", label).split("<image>")
    theirs = _their_side(tok, prefix, pad=False), _their_side(tok, suffix.strip(), pad=False)
    seq = thought2text_sequence(mistral, T2T, 1, label, None)
    slot = seq.slot.index(True)
    assert (seq.ids[:slot], seq.ids[slot + 1 :]) == theirs


def test_training_batch_is_left_padded_with_zero_embeddings_and_no_mask(mistral):
    soft = torch.randn(2, 1, mistral.d_model)
    labels, caps = ["dog", "butterfly"], ["A dog.", "A blue cat sits on a mat in the park."]
    batch = build_batch(mistral, soft, labels, caps, mask_prompt=False, prompt=T2T)
    seqs = [thought2text_sequence(mistral, T2T, 1, lb, c) for lb, c in zip(labels, caps)]
    width = batch.input_ids.shape[1]
    for i, seq in enumerate(seqs):
        pad = width - len(seq.ids)
        assert batch.attention_mask[i].tolist() == [0] * pad + [1] * len(seq.ids)  # left
        assert torch.all(batch.inputs_embeds[i, :pad] == 0)  # model.py: torch.zeros
        expected = [IGNORE if s else t for t, s in zip(seq.ids, seq.slot)]
        got = batch.labels[i, pad:].tolist()
        assert got[1:] == expected[1:]  # every token but the slot carries the loss
    assert torch.equal(batch.inputs_embeds[batch.slots], soft.reshape(2, -1))


def _encoder_model(seed: int = 0) -> EEGClassifier:
    from eegbench.contract.encoder import EncoderContext, build_encoder
    from eegbench.plugins import get

    torch.manual_seed(seed)
    entry = get("encoders", "dilated")
    ctx = EncoderContext(n_chans=8, n_times=64, sfreq=128.0, ch_names=[f"C{i}" for i in range(8)])
    enc = build_encoder(entry, ctx, {"width": 0.25, "residual_blocks": 1})
    return EEGClassifier(enc, 6, 3)


def _batchnorm_state(model) -> dict[str, torch.Tensor]:
    return {k: v.clone() for k, v in model.state_dict().items() if "running_" in k}


def test_stage3_filter_passes_are_thought2texts_and_leak_the_test_split():
    rng = np.random.default_rng(0)
    splits = [rng.normal(size=(n, 8, 64)).astype(np.float32) for n in (150, 40, 30)]
    model = _encoder_model()
    stage1 = _batchnorm_state(model)
    # finetune_llm.py: model.train(); one Filter per split (train, val, test), batches of 128
    # in split order (DataLoader(shuffle=False), whose iterator also draws a seed from the
    # global generator: sliced here so that dropout draws the same numbers), under no_grad
    theirs = copy.deepcopy(model)
    torch.manual_seed(42)
    theirs.train()
    kept_logits = []
    with torch.no_grad():
        for X in splits:
            for i in range(0, len(X), 128):
                logits = theirs(torch.from_numpy(X[i : i + 128]))[1]
                if X is splits[0]:
                    kept_logits.append(logits)
    ours = train_mode_passes(model, splits, seed=42)
    after = _batchnorm_state(model)
    for key, value in _batchnorm_state(theirs).items():
        torch.testing.assert_close(after[key], value)
    np.testing.assert_allclose(ours[0][1], torch.cat(kept_logits).numpy(), rtol=1e-5, atol=1e-6)
    assert not model.training
    assert any(not torch.equal(after[k], stage1[k]) for k in stage1)  # the statistics moved
    # the clean path (eval mode, stage 2's eval predictions) leaves stage 1's statistics
    clean = _encoder_model()
    clean.predict(splits[0])
    assert all(torch.equal(v, stage1[k]) for k, v in _batchnorm_state(clean).items())
    # the leak: other test trials, other statistics in the encoder that is evaluated
    other = _encoder_model()
    train_mode_passes(other, [*splits[:2], splits[2] * 3.0], seed=42)
    assert any(not torch.equal(_batchnorm_state(other)[k], after[k]) for k in after)


def test_thought2text_random_eeg_is_torch_rand_like():
    from eegbench.evaluation.controls import CONTROLS, Condition

    real = Condition(np.full((5, 7), 3.0, dtype=np.float32), None, ["dog"] * 5)

    cond = CONTROLS["t2t_random_eeg"][0](None, real, np.random.default_rng(0))
    assert cond.embeddings.shape == (5, 7) and cond.embeddings.dtype == np.float32
    assert cond.embeddings.min() >= 0 and cond.embeddings.max() < 1  # U[0, 1)
    assert cond.labels == ["dog"] * 5 and cond.logits is None
    only = CONTROLS["t2t_only_obj"][0](None, real, np.random.default_rng(0))
    assert only.literal_slot and only.embeddings is None


def test_thought2text_only_obj_feeds_literal_image_tokens(mistral, monkeypatch):
    tok = mistral.tokenizer
    seen = []
    real = mistral.generate_from_ids

    def spy(ids, mask, *args):
        seen.append((ids.clone(), mask.clone()))
        return real(ids, mask, *args)

    monkeypatch.setattr(mistral, "generate_from_ids", spy)
    labels = ["dog", "butterfly", "cat"]
    batched = generate_with_literal_slot(mistral, labels, T2T, batch_size=3, max_new_tokens=5)
    # inference_chance.py: the inference render, label replaced, <image> left as text,
    # tokenized without special tokens
    messages = [
        {"role": "system", "content": "You are a helpful assistant."},
        {"role": "user", "content": T2T_USER},
    ]
    text = tok.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    ids, mask = seen[0]
    for i, label in enumerate(labels):
        theirs = tok(text.replace("<label_string>", label), add_special_tokens=False).input_ids
        assert ids[i][mask[i].bool()].tolist() == theirs
    assert "<image>" in text
    # a batch decodes as Thought2Text's one trial at a time (batch_size=1)
    alone = [generate_with_literal_slot(mistral, [lb], T2T, max_new_tokens=5)[0] for lb in labels]
    assert batched == alone


def test_after_label_is_inference_chance_cleanup():
    out = "You are a helpful assistant. dog Describe this image in one sentence: "
    out += "The image shows a dog."
    theirs = (
        out.split("dog", 1)[1]
        .replace("This image depicts", "")
        .replace("The image shows", "")
        .replace("This image shows", "")
        .replace("The image depicts", "")
        .strip()
    )
    assert after_label(out, "dog") == theirs == "Describe this image in one sentence:  a dog."


def test_clean_preset_differs_from_the_faithful_one_only_in_the_leak():
    faithful = build_config([], base="thought2text")
    clean = build_config([], base="thought2text-clean")
    a, b = faithful.to_dict(), clean.to_dict()
    assert a["stage2"].pop("encoder_mode") == "train" and b["stage2"].pop("encoder_mode") == "eval"
    assert a == b
    assert faithful.leaks() and not clean.leaks()


def code_map_options() -> list[str]:
    """The overrides the code map in docs/reproducing-thought2text.md names (its last column)."""
    text = DOC.read_text()
    table = text[text.index("## Code map") :]
    options = []
    for line in table.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 6 and cells[0] not in ("step", "---"):
            options += re.findall(r"`([\w.]+=[^`]+)`", cells[5])
    return options


def test_code_map_options_resolve():
    options = code_map_options()
    assert len(options) >= 8
    for option in options:
        build_config([option], base="thought2text")


def test_thought2text_render_refuses_prompt_masking():
    from eegbench.contract.errors import ConfigError

    with pytest.raises(ConfigError, match="prompt.render=thought2text puts the loss on every"):
        build_config(["stage2.mask_prompt=true"], base="thought2text")


def test_thought2text_only_obj_runs_on_a_plain_lm():
    """``eval.controls=all`` includes ``t2t_only_obj``; an LM without a chat template gets the
    plain prompt's text with ``<image>`` in it, after BOS."""
    from eegbench.train.generation import literal_slot_text

    tok = make_tokenizer(**FAMILIES["llama"])
    tok.chat_template = None
    lm = CausalLM(make_model("llama", len(tok), tok.eos_token_id, tok.bos_token_id), tok)
    text = literal_slot_text(lm, PromptConfig(), "dog")
    assert text == "<|begin_of_text|><image> dog Describe this in one sentence:"
    labels = ["dog", "cat"]
    batched = generate_with_literal_slot(lm, labels, PromptConfig(), max_new_tokens=4)
    alone = [
        generate_with_literal_slot(lm, [lb], PromptConfig(), max_new_tokens=4)[0] for lb in labels
    ]
    assert batched == alone and all(isinstance(c, str) for c in batched)
