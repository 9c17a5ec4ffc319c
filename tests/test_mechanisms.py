"""The synthetic dataset means what it says: induced information is read by band power and not
by a linear map of the raw samples, evoked information the other way round; artifacts appear
where and when their parameters put them."""

from __future__ import annotations

import numpy as np
import pytest

import eegbench
from eegbench.contract.errors import ConfigError
from eegbench.evaluation.mechanism import mechanism_probes

# 10 classes x 24 images (6 test images per class), 2 subjects: 340 training and 120 test
# trials of 16 channels x 0.5 s at 128 Hz. The induced response is made strong (gamma ERS 2x
# the background's 35-45 Hz power, alpha ERD 60%, depth 1) so that 120 test trials show it;
# docs/synthetic.md gives the probes at the literature's magnitudes.
GEOMETRY = dict(
    sfreq=128.0,
    n_times=64,
    n_subjects=2,
    repetitions=1,
    n_classes=10,
    images_per_class=24,
    test_images=6,
    n_chans=16,
    snr=0.6,
    seed=1,
)
STRONG = dict(induced_ers=2.0, induced_depth=1.0, induced_erd=0.6)


def _build(**kw):
    return eegbench.get("datasets", "synthetic").build(**{**GEOMETRY, **kw})


def _contains_chance(ci, chance):
    return ci.low <= chance <= ci.high


def test_induced_attribute_needs_band_power_and_evoked_needs_raw():
    probes = mechanism_probes(_build(mechanism_colour="induced", **STRONG), n_boot=300)
    colour, setting = probes["colour"], probes["setting"]
    assert _contains_chance(colour.raw, colour.chance)  # induced only: linear read-out fails
    assert colour.band_power.estimate >= colour.chance + 0.2
    assert setting.raw.estimate >= setting.chance + 0.2  # evoked only: the reverse
    assert _contains_chance(setting.band_power, setting.chance)


def test_evoked_only_world_is_read_linearly():
    colour = mechanism_probes(_build(), n_boot=300)["colour"]
    assert colour.raw.estimate >= colour.chance + 0.2
    assert _contains_chance(colour.band_power, colour.chance)


def _small(**kw):
    return eegbench.get("datasets", "synthetic").build(
        n_classes=4, images_per_class=3, n_subjects=2, seed=0, **kw
    )


def test_new_features_default_off_and_mechanism_recorded():
    plain = _small()
    assert np.array_equal(plain.X, _small(mechanism_colour="evoked", blink_rate=0.0).X)
    truth = _small(mechanism_setting="both").info["ground_truth"]
    assert truth["mechanisms"] == {"colour": "evoked", "setting": "both"}
    assert truth["bad_channels"] == []


def test_blinks_are_frontal_and_line_noise_sits_at_its_frequency():
    plain = _small()
    names = plain.ch_names
    blinky = _small(blink_rate=120.0)  # about one blink per trial
    extra = np.abs(blinky.X - plain.X).max(axis=(0, 2))
    assert (
        extra[names.index("Fp1")] > 50 and extra[names.index("Fp1")] > 5 * extra[names.index("Oz")]
    )
    hum = _small(line_noise_uv=5.0, line_freq=50.0).X - plain.X
    spectrum = np.abs(np.fft.rfft(hum, axis=-1)).mean(axis=(0, 1))
    freqs = np.fft.rfftfreq(hum.shape[-1], d=1 / plain.sfreq)
    assert freqs[spectrum.argmax()] == pytest.approx(50.0, abs=2.0)


def test_bad_channels_and_session_gain():
    data = _small(bad_channel_prob=0.25)
    bad = data.info["ground_truth"]["bad_channels"]
    assert len(bad) == 2 * 2 and sum(map(len, bad)) > 0  # per session: subject x block
    gained = _small(session_gain_sd=0.3)
    ratio = gained.X[:, 0, :].std(axis=1) / _small().X[:, 0, :].std(axis=1)
    assert len(np.unique(np.round(ratio, 6))) == 2 * 2  # one gain per subject x repetition


def test_impossible_settings_are_one_line_errors():
    with pytest.raises(ConfigError, match="line_freq=50.0 Hz is above Nyquist"):
        _small(sfreq=64.0, line_noise_uv=1.0)
    with pytest.raises(ConfigError, match="induced gamma"):
        _small(sfreq=64.0, mechanism_colour="induced")


def test_results_json_carries_the_mechanism_probes_per_attribute(tiny_run_dir):
    """A run on data with ground truth records the evoked (raw) and induced (band-power)
    ceilings of the class and of every attribute, on the evaluated split."""
    from eegbench.results.record import RunRecord

    probes = RunRecord.read(tiny_run_dir).mechanism_probes
    assert {"class", "colour", "setting"} <= set(probes)
    for row in probes.values():
        assert 0 < row["chance"] < 1
        for kind in ("raw", "band_power"):
            low, high = row[kind]["ci"]  # widened by sqrt(G/(G-1)): may pass 0 or 1
            assert low <= row[kind]["value"] <= high and 0 <= row[kind]["value"] <= 1
