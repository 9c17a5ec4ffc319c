"""Built-in EEG encoders: shapes, gradients, reference parameter counts, small-input rules."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import torch

import eegbench
from eegbench.contract.errors import ConfigError, DataError

os.environ.setdefault("HF_HUB_OFFLINE", "1")

BUILTINS = ("dilated", "eegnet", "shallow", "deep", "lstm", "conformer", "linear")
# (n_chans, n_times, batch); dilated runs at width 0.125 here, full width in the slow tests.
SHAPES = ((32, 128, 4), (128, 440, 2))


def build(name: str, n_chans: int, n_times: int, **params):
    return eegbench.get("encoders", name).build(n_chans, n_times, **params)


def n_params(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def test_all_builtins_registered_with_citation_and_description():
    reg = eegbench.registry("encoders")
    for name in BUILTINS:
        entry = reg.get(name)
        assert entry.description
        assert entry.param_list(), name
        if name != "linear":
            assert any(s in entry.citation for s in ("doi:", "arXiv:")), name
            assert any(str(y) in entry.citation for y in range(2017, 2024)), name


@pytest.mark.parametrize("n_chans,n_times,batch", SHAPES)
@pytest.mark.parametrize("name", BUILTINS)
def test_forward_backward_reaches_every_parameter(name, n_chans, n_times, batch):
    torch.manual_seed(0)
    params = {"width": 0.125} if name == "dilated" else {}
    enc = build(name, n_chans, n_times, **params)
    enc.train()
    x = torch.randn(batch, n_chans, n_times, requires_grad=True)
    out = enc(x)
    assert out.shape == (batch, enc.n_features)
    assert torch.isfinite(out).all()
    (out * torch.randn_like(out)).sum().backward()
    assert x.grad.abs().sum() > 0
    for pname, p in enc.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), pname
        if p.ndim > 1:  # weights; a bias right before batch norm has a ~0 gradient by design
            assert p.grad.abs().sum() > 0, pname


def channelnet_reference_params(c: int) -> int:
    """Parameter count of the reference EEG-ChannelNet layer list (REFERENCE.md) for C channels.

    Conv layers are BN(in) -> ReLU -> Conv(bias) -> Dropout; residual convs have no bias.
    """

    def conv_layer(cin: int, cout: int, kh: int, kw: int) -> int:
        return 2 * cin + cin * cout * kh * kw + cout

    temporal = 4 * conv_layer(1, 10, 1, 33)
    spatial = sum(conv_layer(40, 50, c // i, 1) for i in (1, 2, 3, 4))
    residual = 2 * (200 * 200 * 9) + 2 * (2 * 200)
    stages = 4 * (residual + conv_layer(200, 200, 3, 3))
    return temporal + spatial + stages + conv_layer(200, 50, 3, 3)


def test_dilated_reference_input_gives_500_features():
    torch.manual_seed(0)
    enc = build("dilated", 128, 440)
    assert enc.n_features == 500
    assert enc.out_shape == (50, 1, 10)
    assert n_params(enc) == channelnet_reference_params(128) == 4_949_938
    kernels = [layer[2].kernel_size for layer in enc.spatial.layers]
    assert kernels == [(128, 1), (64, 1), (42, 1), (32, 1)]
    assert [layer[2].dilation for layer in enc.temporal.layers] == [(1, 1), (1, 2), (1, 4), (1, 8)]
    enc.eval()
    with torch.no_grad():
        x = torch.randn(1, 1, 128, 440)
        t = enc.temporal(x)
        s = [layer(t) for layer in enc.spatial.layers]
    assert t.shape == (1, 40, 128, 220)
    assert all(o.shape == (1, 50, 64, 220) for o in s)


@pytest.mark.slow
@pytest.mark.parametrize("n_chans,n_times,n_features", [(32, 128, 50), (128, 440, 500)])
def test_dilated_full_width_forward_backward(n_chans, n_times, n_features):
    torch.manual_seed(0)
    enc = build("dilated", n_chans, n_times, dropout=0.0)  # Dropout2d could zero a whole map
    out = enc(torch.randn(4, n_chans, n_times))
    assert out.shape == (4, n_features)
    # a random projection: out.sum() after BatchNorm has a gradient that is zero up to rounding
    (out * torch.randn_like(out)).sum().backward()
    assert all(
        p.grad is not None and p.grad.abs().sum() > 0 for p in enc.parameters() if p.ndim > 1
    )


def test_dilated_small_inputs_switch_to_kernel_1_along_collapsed_dims():
    enc = build("dilated", 32, 128)
    # height 16 -> 7 -> 3 -> 1 -> 1 (kernel 1), width 64 -> 31 -> 15 -> 7 -> 3 -> final 1
    assert enc.out_shape == (50, 1, 1) and enc.n_features == 50
    downs = [stage[1][2] for stage in enc.res_blocks]
    assert [d.kernel_size for d in downs] == [(3, 3), (3, 3), (3, 3), (1, 3)]
    assert [d.stride for d in downs] == [(2, 2), (2, 2), (2, 2), (1, 2)]
    assert enc.final_conv[2].kernel_size == (1, 3)
    for c, t in ((17, 99), (1, 1), (3, 40)):  # odd channel count: spatial heights still agree
        e = build("dilated", c, t)
        assert e(torch.randn(2, c, t)).shape == (2, e.n_features)


def test_dilated_width_scales_every_filter_count():
    enc = build("dilated", 32, 128, width=0.5)
    assert enc.temporal.layers[0][2].out_channels == 5
    assert enc.spatial.layers[0][2].out_channels == 25
    assert enc.final_conv[2].out_channels == 25
    tiny = build("dilated", 32, 128, width=0.01)
    assert tiny.temporal.layers[0][2].out_channels == 1 and tiny.n_features == 1
    assert n_params(build("dilated", 32, 128, width=0.25)) < n_params(enc) / 3


def test_eegnet_param_count_matches_lawhern_table1():
    # Lawhern et al. 2018, Table 1 (EEGNet-8,2, C channels, classifier excluded):
    # conv 64*F1 + BN 2*F1 + depthwise C*D*F1 + BN 2*D*F1 + separable 16*D*F1 + F2*D*F1 + BN 2*F2
    c, f1, d, f2 = 64, 8, 2, 16
    expected = 64 * f1 + 2 * f1 + c * d * f1 + 2 * d * f1 + 16 * d * f1 + f2 * d * f1 + 2 * f2
    enc = build("eegnet", c, 128)
    assert n_params(enc) == expected == 2128
    assert enc.n_features == f2 * 128 // 32


def test_shallow_and_deep_param_counts_match_schirrmeister_architecture():
    # Schirrmeister et al. 2017, Fig. 1/2 (classifier conv excluded), BCI IV 2a: 22 x 1000.
    c = 22
    shallow = 40 * 25 + 40 + 40 * 40 * c + 2 * 40
    enc = build("shallow", c, 1000)
    assert n_params(enc) == shallow == 36_320
    assert enc.n_features == 40 * 61  # (1000 - 24 - 75) // 15 + 1 = 61
    deep = 25 * 10 + 25 + 25 * 25 * c + 2 * 25
    deep += sum(i * o * 10 + 2 * o for i, o in ((25, 50), (50, 100), (100, 200)))
    enc = build("deep", c, 1000)
    assert n_params(enc) == deep == 277_275
    assert enc.n_features == 200 * 7


def test_lstm_and_conformer_param_counts():
    c, h = 128, 128
    lstm = build("lstm", c, 440)
    assert n_params(lstm) == 4 * h * (c + h) + 8 * h + h * 128 + 128
    conf = build("conformer", 22, 1000)
    emb = 40
    patch = (25 * emb + emb) + (emb * emb * 22 + emb) + 2 * emb + (emb * emb + emb)
    block = 2 * 2 * emb + 4 * (emb * emb + emb) + (emb * 4 * emb + 4 * emb) + (4 * emb * emb + emb)
    assert n_params(conf) == patch + 6 * block == 156_320
    assert conf.n_tokens == 61 and conf.n_features == 61 * emb


@pytest.fixture
def braindecode_models():
    """braindecode.models through the bridge (plain importorskip would hit torchaudio's CUDA
    extension before the bridge's work-around)."""
    from eegbench_plugins.encoders import braindecode_bridge as bb

    if not bb.available():
        pytest.skip("braindecode is not installed")
    return bb.models_module()


def test_param_counts_equal_braindecode_models_without_their_classifier(braindecode_models):
    bd = braindecode_models
    cases = [
        ("eegnet", bd.EEGNet, 64, 128, ("final_layer",)),
        ("shallow", bd.ShallowFBCSPNet, 22, 1000, ("final_layer",)),
        ("deep", bd.Deep4Net, 22, 1000, ("final_layer",)),
        ("conformer", bd.EEGConformer, 22, 1000, ("final_layer", "fc")),
    ]
    for name, cls, c, t, heads in cases:
        ref = cls(n_chans=c, n_times=t, n_outputs=4)
        ref_body = n_params(ref) - sum(n_params(getattr(ref, h)) for h in heads)
        assert n_params(build(name, c, t)) == ref_body, name


@pytest.mark.parametrize("name", BUILTINS)
def test_init_is_deterministic_under_manual_seed(name):
    torch.manual_seed(3)
    a = build(name, 8, 64, out_features=16) if name == "linear" else build(name, 8, 64)
    torch.manual_seed(3)
    b = build(name, 8, 64, out_features=16) if name == "linear" else build(name, 8, 64)
    sa, sb = a.state_dict(), b.state_dict()
    assert all(torch.equal(sa[k], sb[k]) for k in sa)
    torch.manual_seed(4)
    c = build(name, 8, 64, out_features=16) if name == "linear" else build(name, 8, 64)
    assert any(
        not torch.equal(sa[k], v)
        for k, v in c.state_dict().items()
        if v.is_floating_point() and v.numel() > 1 and v.std() > 0
    )


@pytest.mark.parametrize(
    "name,n_times,n_features",
    [
        ("eegnet", 16, 16 * 1),
        ("eegnet", 3, 16 * 1),
        ("shallow", 50, 40),
        ("shallow", 10, 40),
        ("deep", 30, 200),
        ("conformer", 64, 40),
        ("conformer", 8, 40),
    ],
)
def test_short_inputs_shrink_pools_instead_of_crashing(name, n_times, n_features):
    enc = build(name, 4, n_times)
    assert enc.n_features == n_features
    assert enc(torch.randn(2, 4, n_times)).shape == (2, n_features)


def test_linear_floor_is_the_raw_input_or_one_layer():
    x = torch.randn(3, 4, 5)
    enc = build("linear", 4, 5)
    assert enc.n_features == 20 and torch.equal(enc(x), x.flatten(1))
    enc = build("linear", 4, 5, out_features=7)
    assert enc(x).shape == (3, 7) and n_params(enc) == 20 * 7 + 7


def test_bad_input_and_bad_params_are_user_errors():
    enc = build("eegnet", 8, 64)
    with pytest.raises(DataError, match=r"\[B, 8, 64\]"):
        enc(torch.randn(2, 8, 65))
    with pytest.raises(ConfigError, match="heads"):
        build("conformer", 8, 64, heads=3)
    with pytest.raises(ConfigError, match="width"):
        build("dilated", 8, 64, widht=0.5)


def test_braindecode_hint_and_no_registration_without_braindecode(monkeypatch):
    from eegbench_plugins.encoders import braindecode_bridge as bb

    monkeypatch.setattr(bb, "_package_dir", lambda: None)
    hint = bb.missing_hint("braindecode:EEGNeX")
    assert hint == (
        "encoder 'braindecode:EEGNeX' needs the braindecode extra: "
        "pip install -c constraints.txt 'eegbench[braindecode]'"
    )
    assert bb.missing_hint("eegnet") is None
    names: list[str] = []
    bb.register_encoders(register=lambda name, *a, **k: names.append(name))
    assert names == []


def test_braindecode_models_register_and_build(braindecode_models):
    from eegbench_plugins.encoders import braindecode_bridge as bb

    assert bb.missing_hint("braindecode:EEGNeX") is None
    names = eegbench.registry("encoders").names("braindecode:*")
    assert {"braindecode:EEGNeX", "braindecode:ATCNet", "braindecode:EEGNet"} <= set(names)
    torch.manual_seed(0)
    enc = build("braindecode:EEGNeX", 32, 128, n_outputs=24)
    out = enc(torch.randn(3, 32, 128))
    assert out.shape == (3, 24) and enc.n_features == 24
    out.sum().backward()
    assert all(p.grad is not None for p in enc.parameters() if p.requires_grad)
    with pytest.raises(ConfigError, match="not \\[B, 16\\]"):
        build("braindecode:NeuroPose", 32, 440, n_outputs=16)


def test_listing_braindecode_models_does_not_import_braindecode(braindecode_models):
    code = (
        "import sys, eegbench; n = eegbench.registry('encoders').names('braindecode:*');"
        "print(len(n), 'braindecode' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    count, bd_loaded = out.stdout.split()
    assert int(count) > 30 and bd_loaded == "False"


def test_spatial_conv_gradients_stay_finite():
    """torch 2.13's oneDNN backward gave NaN weight gradients for this conv in ~15% of passes
    with implicit padding; PaddedConv2d pads explicitly (same output, finite gradients)."""
    from eegbench_plugins.encoders.channelnet import PaddedConv2d

    torch.manual_seed(0)
    conv = PaddedConv2d(40, 50, (32, 1), stride=(2, 1), padding=(15, 0))
    ref = torch.nn.Conv2d(40, 50, (32, 1), stride=(2, 1), padding=(15, 0))
    ref.load_state_dict(conv.state_dict())
    x = torch.randn(4, 40, 32, 64)
    assert torch.allclose(conv(x), ref(x), atol=1e-5)
    for _ in range(40):
        conv.zero_grad()
        y = conv(torch.randn(4, 40, 32, 64))
        (y * torch.randn_like(y)).sum().backward()
        assert torch.isfinite(conv.weight.grad).all()


def test_spatial_conv_gradients_stay_finite_under_bf16_autocast():
    """The same conv under CPU bf16 autocast (precision=bf16): oneDNN's bf16 kernels, same guard."""
    from eegbench_plugins.encoders.channelnet import PaddedConv2d

    torch.manual_seed(0)
    conv = PaddedConv2d(40, 50, (32, 1), stride=(2, 1), padding=(15, 0))
    ref = torch.nn.Conv2d(40, 50, (32, 1), stride=(2, 1), padding=(15, 0))
    ref.load_state_dict(conv.state_dict())
    x = torch.randn(4, 40, 32, 64)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        y, y_ref = conv(x), ref(x)
    assert y.dtype == torch.bfloat16
    assert torch.allclose(y.float(), y_ref.float(), atol=0.05, rtol=0.02)
    for _ in range(6):  # few passes: without AVX512-BF16 the CPU emulates bf16 (slow)
        conv.zero_grad()
        with torch.autocast("cpu", dtype=torch.bfloat16):
            y = conv(torch.randn(2, 40, 32, 64))
        (y.float() * torch.randn(y.shape)).sum().backward()
        assert conv.weight.grad.dtype == torch.float32
        assert torch.isfinite(conv.weight.grad).all()


def test_encoders_get_the_datas_context_and_old_signatures_still_work():
    """A factory declaring ``context`` reads sfreq and channel names from the data; a factory
    written for ``(n_chans, n_times, **params)`` is built exactly as before."""
    from dataclasses import dataclass

    import torch
    from torch import nn

    from eegbench.api import EEGEncoder, EncoderContext, Spec, build_encoder
    from eegbench.contract.registry import Entry

    @dataclass
    class P:
        hidden: int = 4

    class WithContext(EEGEncoder):
        def __init__(self, n_chans, n_times, *, context=None, hidden=4):
            super().__init__(n_chans, n_times, context=context)
            self.n_features = hidden
            self.net = nn.Linear(n_chans * n_times, hidden)

        def forward(self, x):
            return self.net(x.flatten(1))

    class OldStyle(nn.Module):  # a third-party encoder from before the context existed
        def __init__(self, n_chans, n_times, hidden=4):
            super().__init__()
            self.n_features = hidden
            self.net = nn.Linear(n_chans * n_times, hidden)

        def forward(self, x):
            return self.net(x.flatten(1))

    ctx = EncoderContext(3, 10, 250.0, ("Cz", "O1", "O2"))
    new = build_encoder(Entry("encoders", Spec("new", WithContext, P)), ctx, {"hidden": 5})
    assert (new.sfreq, new.ch_names, new.n_features) == (250.0, ("Cz", "O1", "O2"), 5)
    old = build_encoder(Entry("encoders", Spec("old", OldStyle, P)), ctx, {"hidden": 6})
    assert old(torch.zeros(2, 3, 10)).shape == (2, 6)


def test_the_pipeline_hands_encoders_the_synthetic_datas_sfreq_and_channels(tmp_path):
    from eegbench.config import build_config
    from eegbench.train.parts import build_model, load_dataset

    cfg = build_config([f"cache_dir={tmp_path}", "dataset.n_classes=4", "dataset.n_chans=8"])
    data = load_dataset(cfg)
    enc = build_model(cfg, data, 16).encoder
    assert enc.sfreq == data.sfreq == 128.0 and enc.ch_names == tuple(data.ch_names)
    assert len(enc.ch_names) == 8
