"""Options that make the EEG reach the captions: stage-1 losses, stage-2 filtering and input
normalisation, and a tiny-gpt2 that has learned to read soft tokens."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from eegbench.config import Stage1Config, Stage2Config, build_config
from eegbench.contract.errors import ConfigError, EegbenchError
from eegbench.train.model import EEGClassifier, Projector
from eegbench.train.stage1 import embedding_loss, train_stage1


def _bank():
    t = torch.nn.functional.normalize(torch.randn(6, 8, generator=torch.Generator().manual_seed(0)))
    which = torch.tensor([0, 1, 2, 3, 4, 5, 0, 1])
    return t[which], t, which


def test_infonce_prefers_each_trials_own_image_and_scales_with_temperature():
    per_trial, bank, which = _bank()
    idx = torch.arange(len(which))
    cfg = Stage1Config(loss="infonce", temperature=0.1)
    right = embedding_loss(per_trial, idx, per_trial, bank, which, cfg)
    wrong = embedding_loss(per_trial.roll(1, 0), idx, per_trial, bank, which, cfg)
    assert right < 0.1 < wrong
    # the length of the embedding does not matter, only its direction
    assert torch.isclose(right, embedding_loss(5 * per_trial, idx, per_trial, bank, which, cfg))
    cold = Stage1Config(loss="infonce", temperature=1.0)
    assert embedding_loss(per_trial, idx, per_trial, bank, which, cold) > right


def test_cosine_loss_is_one_minus_cosine_and_mse_is_the_default():
    per_trial, bank, which = _bank()
    idx = torch.arange(len(which))
    cos = Stage1Config(loss="cosine")
    assert embedding_loss(3 * per_trial, idx, per_trial, bank, which, cos).abs() < 1e-6
    assert torch.isclose(
        embedding_loss(-per_trial, idx, per_trial, bank, which, cos), torch.tensor(2.0)
    )
    assert Stage1Config().loss == "mse"
    mse = embedding_loss(2 * per_trial, idx, per_trial, bank, which, Stage1Config())
    assert torch.isclose(mse, ((per_trial) ** 2).mean())


def test_stage1_loss_names_and_temperature_are_validated():
    with pytest.raises(ConfigError):
        build_config(["stage1.loss=clip"])
    enc = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(8, 4))
    enc.n_features = 4
    model = EEGClassifier(enc, 3, 2)
    X = np.zeros((4, 2, 4), np.float32)
    y = np.array([0, 1, 0, 1])
    with pytest.raises(EegbenchError, match="temperature"):
        train_stage1(
            model, X, y, np.zeros((4, 3), np.float32), X, y,
            Stage1Config(loss="infonce", temperature=0.0, epochs=1), torch.Generator(),
        )  # fmt: skip


def test_infonce_stage1_learns_to_retrieve_the_right_target():
    g = torch.Generator().manual_seed(0)
    torch.manual_seed(0)
    n_img, per = 4, 10
    image = np.repeat(np.arange(n_img), per)
    X = np.eye(n_img)[image][:, None, :] + 0.1 * np.random.default_rng(0).normal(size=(40, 1, 4))
    X = X.astype(np.float32)
    targets = torch.nn.functional.normalize(torch.randn(n_img, 6)).numpy()
    enc = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(4, 8))
    enc.n_features = 8
    model = EEGClassifier(enc, 6, n_img)
    cfg = Stage1Config(loss="infonce", epochs=30, lr=0.05, batch_size=8)
    res = train_stage1(model, X, image, targets[image], X, image, cfg, g)
    # the embedding term (logged under "mse" whatever the loss) falls far below log(4) = 1.39
    assert res.history[0]["mse"] > 0.5 and res.history[-1]["mse"] < 0.1
    emb = model(torch.as_tensor(X))[0].detach().numpy()
    sims = (emb / np.linalg.norm(emb, axis=1, keepdims=True)) @ targets.T
    assert (sims.argmax(1) == image).mean() > 0.75  # chance 0.25


def test_projector_normalize_inputs_ignores_the_length():
    torch.manual_seed(0)
    p = Projector(5, 7, n_tokens=2, normalize=True)
    x = torch.randn(3, 5)
    assert torch.allclose(p(x), p(10 * x), atol=1e-6)
    assert p(x).shape == (3, 2, 7)
    plain = Projector(5, 7, n_tokens=2)
    plain.load_state_dict(p.state_dict())  # same parameters: the flag adds none
    assert not torch.allclose(plain(x), plain(10 * x))


class _StubLM:
    """Just enough of CausalLM for train_stage2: records the captions it is trained on."""

    d_model = 4

    def __init__(self):
        self.seen: list[str] = []
        self.w = torch.nn.Parameter(torch.zeros(1))

    def loss(self, inputs_embeds, attention_mask, labels):
        return (inputs_embeds**2).mean() + 0 * self.w


def test_filter_correct_trains_the_eeg_phase_on_correct_trials_only(monkeypatch):
    import dataclasses

    import eegbench.train.stage2 as stage2
    from eegbench.config import build_config
    from eegbench.train.fit import Fitting, fit_projector
    from eegbench.train.model import Projector
    from eegbench.train.parts import Parts

    seen: list[list[str]] = []

    def fake_batch(llm, soft, labels, captions, mask_prompt=True, **kwargs):
        seen.append(list(captions))
        return _Batch(soft)

    class _Batch:
        def __init__(self, soft):
            self.inputs_embeds, self.attention_mask, self.labels = soft, None, None

    monkeypatch.setattr(stage2, "build_batch", fake_batch)

    class _Data:
        y = np.array([0, 1, 0, 1])
        image = np.array([0, 1, 2, 3])
        splits = {"train": np.arange(4)}
        X = np.zeros((4, 1, 2), np.float32)
        class_names = ["a", "b"]
        captions = ["c0", "c1", "c2", "c3"]

    class _Model(torch.nn.Module):
        embed = torch.nn.Linear(1, 3)
        predict = EEGClassifier.predict

        def forward(self, x):  # classifies trials 0 and 3 right, 1 and 2 wrong
            logits = torch.tensor([[1.0, 0], [1.0, 0], [0, 1.0], [0, 1.0]])[: len(x)]
            return torch.ones(len(x), 3), logits

    def train(s2: Stage2Config):
        cfg = dataclasses.replace(build_config([]), stage2=s2)
        projector = Projector(3, _StubLM.d_model)
        parts = Parts(cfg, _Data(), np.zeros((4, 3)), (), 3, _Model(), projector, _StubLM())
        return fit_projector(parts, Fitting(torch.Generator()))

    rec = train(Stage2Config(epochs=1, batch_size=8, phases=["eeg"], filter_correct=True))
    assert rec.filter_correct == {"kept": 2, "of": 4}
    assert sorted(c for batch in seen for c in batch) == ["c0", "c3"]
    assert rec.history[0]["n"] == 2
    seen.clear()
    rec = train(Stage2Config(epochs=1, batch_size=8, phases=["eeg"], filter_correct=False))
    assert sorted(c for batch in seen for c in batch) == ["c0", "c1", "c2", "c3"]
    assert "filter_correct" not in rec.model_dump(exclude_unset=True)


def test_tiny_gpt2_with_prefix_tokens_learns_to_take_soft_tokens_in_the_slot(tmp_path):
    from eegbench_plugins.llms.hf_loading import load_pretrained
    from eegbench_plugins.llms.tiny import train_tiny

    from eegbench.contract.llm import prompt_text
    from eegbench.train.prompting import build_batch

    caps = [f"A {c} {o} in a park." for c in ("red", "blue", "green") for o in ("cup", "hat")]
    labels = [c.split()[2] for c in caps]
    texts = [prompt_text(lb, c) for lb, c in zip(labels, caps, strict=True)]
    for sub in ("p", "plain"):
        (tmp_path / sub).mkdir()
    kw = dict(seed=0, n_layer=1, n_embd=32, n_head=2, vocab_size=300, steps=200, batch_size=12)
    enc = train_tiny(texts, tmp_path / "p", lr=3e-3, prefix_tokens=2, prefix_texts=caps, **kw)
    plain_enc = train_tiny(texts, tmp_path / "plain", lr=3e-3, **kw)
    assert plain_enc is None  # a plain LM has no prefix encoder
    prefixed, plain = load_pretrained(str(tmp_path / "p")), load_pretrained(str(tmp_path / "plain"))
    wte = prefixed.model.get_input_embeddings().weight
    with torch.no_grad():
        soft = enc(wte, torch.arange(len(caps)), torch.Generator())
        assert soft.shape == (len(caps), 2, 32)

        def loss(llm, i: int) -> float:  # caption i with its prefix in the <image> slot
            batch = build_batch(llm, soft[i : i + 1], [labels[i]], [caps[i]])
            return float(llm.loss(*_fields(batch)))

        with_prefix = sum(loss(prefixed, i) for i in range(len(caps)))
        without = sum(loss(plain, i) for i in range(len(caps)))
        # both still read the plain prompt (ONLY_OBJ has no slot)
        no_slot = [build_batch(m, None, labels, caps) for m in (prefixed, plain)]
        plain_losses = [float(m.loss(*_fields(b))) for m, b in zip((prefixed, plain), no_slot)]
    # the plain LM is derailed by soft tokens it never saw; the prefix-trained one is not
    assert with_prefix < 0.5 * without
    assert max(plain_losses) < 1.0


def _fields(batch):
    return batch.inputs_embeds, batch.attention_mask, batch.labels


def test_default_benchmark_gives_the_reference_encoder_a_real_bottleneck():
    """The default data geometry must not collapse dilated (12 features at 32 x 64 with the
    reference's 4 downsampling stages); see docs/encoders.md, 'The geometry it needs'."""
    import eegbench

    cfg = build_config([])
    assert cfg.encoder.name == "dilated"
    data = cfg.dataset.params
    enc = eegbench.get("encoders", "dilated").make(cfg.encoder.params, data.n_chans, data.n_times)
    assert enc.n_features >= 48
    # the kernel keeps the reference's duration (33 ms at 1 kHz) within a factor of 2
    assert 0.5 < cfg.encoder.params.temporal_kernel / data.sfreq / 0.033 < 2


def test_gradient_accumulation_steps_once_per_group_of_micro_batches(monkeypatch):
    """``stage2.grad_accum=k`` with micro-batches of b rows takes the step one batch of k*b
    rows takes (the loss here is a mean over rows, so the two gradients are equal)."""
    import eegbench.train.stage2 as stage2
    from eegbench.train.model import Projector
    from eegbench.train.stage2 import Phase, train_stage2

    class _Batch:
        def __init__(self, soft):
            self.inputs_embeds, self.attention_mask, self.labels = soft, None, None

    monkeypatch.setattr(stage2, "build_batch", lambda llm, soft, *a, **k: _Batch(soft))
    inputs = torch.randn(8, 3, generator=torch.Generator().manual_seed(0)).numpy()
    results = {}
    for batch, accum in ((4, 1), (2, 2), (8, 1)):
        torch.manual_seed(0)
        proj = Projector(3, _StubLM.d_model, n_tokens=1)
        cfg = Stage2Config(
            epochs=2, batch_size=batch, grad_accum=accum, phases=("eeg",), lr=0.1,
            weight_decay=0.0, grad_clip=0.0, filter_correct=False,
        )  # fmt: skip
        train_stage2(
            _StubLM(), proj, [Phase("eeg", inputs)], ["x"] * 8, ["c"] * 8, cfg,
            torch.Generator().manual_seed(1),
        )  # fmt: skip
        results[(batch, accum)] = proj.state_dict()["proj.weight"].clone()
    torch.testing.assert_close(results[(4, 1)], results[(2, 2)])  # same steps, same updates
    assert not torch.allclose(results[(4, 1)], results[(8, 1)])  # fewer steps differ
