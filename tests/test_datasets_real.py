"""Real dataset plugins loaded from small fixture files written in each real format."""

from __future__ import annotations

import sys
import warnings

import numpy as np
import pytest
import torch

import eegbench
from eegbench import ConfigError, DataError
from tests.conftest import (
    CH,
    IMAGES_PER_CLASS,
    N_CH,
    N_TEST,
    N_TRAIN,
    R_TEST,
    R_TRAIN,
    TEST_CONCEPTS,
    TRAIN_CONCEPTS,
    WNIDS,
    T,
    cvpr_trials,
    epochs,
    things_eeg,
)


def build(name: str, **params):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return eegbench.get("datasets", name).build(**params)


@pytest.fixture
def cvpr(tmp_path):
    trials, images = cvpr_trials()
    path = tmp_path / "eeg_55_95_std.pth"
    torch.save({"dataset": trials, "labels": WNIDS, "images": images}, path)
    # Image-disjoint published split over the FULL list: images 0,1 of each class -> test,
    # image 2 -> val, rest train; trial 0 (too short) and 25 (too long) are listed but dropped.
    split = {"train": [], "val": [], "test": []}
    for i, tr in enumerate(trials):
        k = tr["image"] % IMAGES_PER_CLASS
        split["test" if k < 2 else "val" if k == 2 else "train"].append(i)
    splits = tmp_path / "block_splits_by_image_all.pth"
    torch.save({"splits": [split, split]}, splits)
    return {"path": str(path), "splits": str(splits), "trials": trials, "images": images}


def test_cvpr40_shapes_and_labels_through_the_files_own_list(cvpr):
    d = build("cvpr40", path=cvpr["path"], splits_path=cvpr["splits"])
    assert d.X.shape == (36 - 2, N_CH, 440)  # two trials fail the length filter
    assert d.class_names == ["piano", "dog", "mushroom"]
    assert d.info["wnids"] == WNIDS
    assert np.allclose(d.X[:, 0, :].mean(axis=1), d.y)  # channel 0 holds the stored label
    for i in range(d.n_trials):
        name = d.image_names[d.image[i]]
        assert d.info["wnids"][d.y[i]] == name.split("_")[0]
    assert d.sfreq == 1000.0 and d.info["tmin"] == pytest.approx(0.02)
    assert "citation" not in d.info  # declared once, in the registration
    assert "Spampinato" in eegbench.get("datasets", "cvpr40").citation
    assert d.captions is None and d.image_paths is None


def test_cvpr40_split_indices_point_into_full_list_and_drop_filtered_trials(cvpr):
    d = build("cvpr40", path=cvpr["path"], splits_path=cvpr["splits"])
    listed = {k: set() for k in ("train", "val", "test")}
    for i, tr in enumerate(cvpr["trials"]):
        k = tr["image"] % IMAGES_PER_CLASS
        listed["test" if k < 2 else "val" if k == 2 else "train"].add(i)
    for split, idx in d.splits.items():
        got = set(np.round(d.X[idx, 1, 0]).astype(int).tolist())  # channel 1 = list index
        assert got == listed[split] - {0, 25}
    assert d.split_overlap("train", "test") == set()
    assert d.info["split"].startswith("published")


def test_cvpr40_subject_with_full_and_subject_indexing(cvpr, tmp_path):
    d = build(
        "cvpr40", path=cvpr["path"], splits_path=cvpr["splits"], split_indexing="full", subject=2
    )
    assert set(d.subject.tolist()) == {2} and d.n_trials == 17
    assert set(np.round(d.X[:, 1, 0]).astype(int).tolist()) == set(range(18, 36)) - {25}
    # A _single-style file indexes the list of the subject's trials (the reference loader).
    single = tmp_path / "block_splits_by_image_single.pth"
    torch.save({"splits": [{"train": list(range(3, 18)), "val": [2], "test": [0, 1]}]}, single)
    d2 = build("cvpr40", path=cvpr["path"], splits_path=str(single), subject=2)
    assert sorted(np.round(d2.X[d2.splits["test"], 1, 0]).astype(int).tolist()) == [18, 19]
    with pytest.raises(DataError, match="use split_indexing=full"):
        build("cvpr40", path=cvpr["path"], splits_path=cvpr["splits"], subject=2)


def test_cvpr40_random_split_is_image_disjoint_and_warns_about_blocks(cvpr):
    d = build("cvpr40", path=cvpr["path"], split_seed=3, val_fraction=0.2, test_fraction=0.2)
    assert "random" in d.info["split"]
    assert d.split_overlap("train", "test") == set() and d.split_overlap("val", "test") == set()
    for s in ("train", "val", "test"):
        assert set(d.y[d.splits[s]].tolist()) == {0, 1, 2}  # stratified by class
    assert any("block" in w and "Li et al." in w for w in d.info["leakage"])
    again = build("cvpr40", path=cvpr["path"], split_seed=3, val_fraction=0.2, test_fraction=0.2)
    assert all(np.array_equal(d.splits[s], again.splits[s]) for s in d.splits)


def test_cvpr40_loso_holds_out_subject_and_its_blocks(cvpr):
    d = build(
        "cvpr40", path=cvpr["path"], splits_path=cvpr["splits"], split="loso", split_subject=2
    )
    assert set(d.subject[d.splits["test"]].tolist()) == {2}
    assert set(d.subject[d.splits["train"]].tolist()) == {1}
    assert d.split_overlap("train", "test") == set()
    assert not any("block" in w for w in d.info["leakage"])


def test_cvpr40_images_and_captions(cvpr, tmp_path):
    imgs, caps = tmp_path / "imagenet", tmp_path / "captions"
    caps.mkdir()
    for name in cvpr["images"]:
        (caps / f"{name}_caption.txt").write_text(f"A photo of {name}.\n")
        folder = imgs / name.split("_")[0]
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{name}.JPEG").write_bytes(b"\xff\xd8")
    d = build("cvpr40", path=cvpr["path"], image_dir=str(imgs), caption_dir=str(caps))
    assert d.captions[3] == f"A photo of {cvpr['images'][3]}."
    assert d.image_paths[5].endswith(f"{WNIDS[0]}/{cvpr['images'][5]}.JPEG")
    (caps / f"{cvpr['images'][0]}_caption.txt").unlink()
    with pytest.raises(DataError, match="1 of 18 captions missing"):
        build("cvpr40", path=cvpr["path"], caption_dir=str(caps))


def _thought2text_images(cvpr, root):
    """Thought2Text's data/images as downloaded: <wnid>/<image>_sketch.JPEG and
    <wnid>/<image>_caption.txt with a marker-wrapped first line and a second line; no photos."""
    images = root / "data" / "images"
    for name in cvpr["images"]:
        folder = images / name.split("_")[0]
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{name}_sketch.JPEG").write_bytes(b"\xff\xd8")
        (folder / f"{name}_caption.txt").write_text(
            f"<s>  A sketch of   {name} on paper. </s>\nSECOND LINE never read\n"
        )
    return images


def test_cvpr40_reads_thought2text_data_folder(cvpr, tmp_path):
    images = _thought2text_images(cvpr, tmp_path)
    d = build(
        "cvpr40", path=cvpr["path"], image_dir=str(images), image_file="sketch",
        caption_dir=str(images),
    )  # fmt: skip
    name = cvpr["images"][3]
    assert d.captions[3] == f"A sketch of {name} on paper."  # first line, no <s> </s>
    assert not any("<s>" in c or "</s>" in c or "SECOND" in c for c in d.captions)
    assert all(p.endswith("_sketch.JPEG") for p in d.image_paths)
    # the photo (the ChannelNet work's default) is not in Thought2Text's folder: one line
    with pytest.raises(DataError, match=r"image file .*/.*\.JPEG \(image_file=photo\) not found"):
        build("cvpr40", path=cvpr["path"], image_dir=str(images))
    (images / name.split("_")[0] / f"{name}_sketch.JPEG").unlink()
    with pytest.raises(DataError, match=f"{name}_sketch.JPEG .*not found"):
        build("cvpr40", path=cvpr["path"], image_dir=str(images), image_file="sketch")
    with pytest.raises(ConfigError, match="image_file='drawing'; valid: photo, sketch"):
        build("cvpr40", path=cvpr["path"], image_dir=str(images), image_file="drawing")


def test_clean_caption_is_thought2texts_reading():
    from eegbench.contract.data import clean_caption

    # datautils.py: readlines()[0].strip().replace("<s>", "").replace("</s>", "")
    raw = "<s> A dog runs\tin  the park. </s>\r\nsecond line\n"
    theirs = raw.splitlines(keepends=True)[0].strip().replace("<s>", "").replace("</s>", "")
    assert clean_caption(raw) == " ".join(theirs.split()) == "A dog runs in the park."


def test_cvpr40_preprocessing_params_apply(cvpr):
    d = build(
        "cvpr40",
        path=cvpr["path"],
        splits_path=cvpr["splits"],
        resample=250.0,
        channels="EEG003,EEG004",
        zscore=True,
    )
    assert d.X.shape[1:] == (2, 110) and d.sfreq == 250.0 and d.ch_names == ["EEG003", "EEG004"]
    tr = d.X[d.splits["train"]]
    assert np.allclose(tr.mean(axis=(0, 2)), 0, atol=1e-5)
    assert np.allclose(tr.std(axis=(0, 2)), 1, atol=1e-4)


@pytest.mark.parametrize(
    "obj, match",
    [
        ([1, 2, 3], "holds a list, expected a dict"),
        ({"dataset": [], "labels": WNIDS}, "lacks key\\(s\\) images"),
        ({"dataset": [], "labels": WNIDS, "images": ["a"]}, "'dataset' is empty"),
        (
            {
                "dataset": [{"eeg": torch.zeros(8), "image": 0, "label": 0, "subject": 1}],
                "labels": WNIDS,
                "images": ["a"],
            },
            "trial 0 eeg has shape \\(8,\\), expected \\[channels, samples\\]",
        ),
        (
            {
                "dataset": [{"eeg": torch.zeros(8, 500), "image": 0, "label": 7, "subject": 1}],
                "labels": WNIDS,
                "images": ["a"],
            },
            "label 7 is outside 'labels'",
        ),
    ],
)
def test_cvpr40_format_errors_name_file_and_problem(tmp_path, obj, match):
    path = tmp_path / "bad.pth"
    torch.save(obj, path)
    with pytest.raises(DataError, match=match) as e:
        build("cvpr40", path=str(path))
    assert "bad.pth" in str(e.value)


def test_cvpr40_corrupt_missing_and_mismatched_files(cvpr, tmp_path):
    bad = tmp_path / "corrupt.pth"
    bad.write_bytes(b"not a torch file at all")
    with pytest.raises(DataError, match="corrupt.pth.*not a readable torch file"):
        build("cvpr40", path=str(bad))
    with pytest.raises(DataError, match="does not exist"):
        build("cvpr40", path=str(tmp_path / "nope.pth"))
    with pytest.raises(ConfigError, match="dataset.path"):
        build("cvpr40")
    wrong = tmp_path / "splits.pth"
    torch.save({"splits": [{"train": [0, 99], "val": [1], "test": [2]}]}, wrong)
    with pytest.raises(DataError, match="does not match the EEG file"):
        build("cvpr40", path=cvpr["path"], splits_path=str(wrong))
    with pytest.raises(ConfigError, match="split_index=5"):
        build("cvpr40", path=cvpr["path"], splits_path=cvpr["splits"], split_index=5)


# ---------------------------------------------------------------- THINGS-EEG2


@pytest.fixture
def things(tmp_path):
    root = tmp_path / "things"
    for s in (1, 2):
        sub = root / f"sub-{s:02d}"
        sub.mkdir(parents=True)
        np.save(
            sub / "preprocessed_eeg_training.npy",
            things_eeg(N_TRAIN, R_TRAIN, 0, s),
            allow_pickle=True,
        )
        np.save(
            sub / "preprocessed_eeg_test.npy",
            things_eeg(N_TEST, R_TEST, N_TRAIN, s),
            allow_pickle=True,
        )
    meta = {
        "train_img_concepts": TRAIN_CONCEPTS,
        "train_img_files": [f"{c[6:]}_{i:02d}s.jpg" for i, c in enumerate(TRAIN_CONCEPTS)],
        "test_img_concepts": TEST_CONCEPTS,
        "test_img_files": [f"{c[6:]}_01b.jpg" for c in TEST_CONCEPTS],
    }
    return root, meta


def test_things_averaged_with_metadata(things):
    root, meta = things
    np.save(root / "image_metadata.npy", meta, allow_pickle=True)
    d = build("things_eeg2", root=str(root), subjects="1,2", val_fraction=0.5)
    assert d.X.shape == (2 * (N_TRAIN + N_TEST), len(CH), T)
    assert d.sfreq == pytest.approx(100.0) and d.info["tmin"] == pytest.approx(-0.2)
    assert np.allclose(d.X[:, 0, 0], d.image)  # image identity survives
    assert np.allclose(
        d.X[:, 1, 0],
        (R_TRAIN - 1) / 2 * (d.image < N_TRAIN) + (R_TEST - 1) / 2 * (d.image >= N_TRAIN),
    )  # mean of the repeats
    assert d.class_names == ["aardvark", "air conditioner", "bat", "cat", "dog", "egg"]
    assert d.image_names[N_TRAIN] == "cat_01b.jpg"
    test = d.splits["test"]
    assert sorted(set(d.image[test].tolist())) == [6, 7, 8] and len(test) == 6
    assert set(d.y[test].tolist()).isdisjoint(d.y[d.splits["train"]].tolist())  # zero-shot
    assert d.info["zero_shot_test"] is True and d.info["n_train_classes"] == 3
    assert d.split_overlap("train", "val") == set()
    assert set(d.y[d.splits["val"]].tolist()) == {0, 1, 2}  # one image of each concept
    assert d.info["leakage"] == []


def test_things_repeats_channels_and_no_metadata(things):
    root, _ = things
    d = build(
        "things_eeg2",
        root=str(root),
        subjects="all",
        average_repeats=False,
        channels="posterior",
        train_images_per_concept=2,
    )
    assert d.ch_names == ["O1", "Oz", "PO3"]
    assert d.n_trials == 2 * (N_TRAIN * R_TRAIN + N_TEST * R_TEST)
    assert np.array_equal(d.X[:, 0, 0], d.info["trial_info"]["repeat"])  # O1 = repeat index
    assert np.array_equal(d.X[:, 1, 0], d.subject)
    assert d.class_names[:3] == ["train concept 0000", "train concept 0001", "train concept 0002"]
    assert d.y[d.image == 3][0] == 1 and d.info["concept_labels"].startswith("image order")
    assert len(set(d.y[d.splits["test"]].tolist())) == N_TEST


def test_things_loso_and_errors(things, tmp_path):
    root, _ = things
    d = build(
        "things_eeg2",
        root=str(root),
        subjects="1,2",
        split="loso",
        split_subject=1,
        train_images_per_concept=2,
    )
    assert set(d.subject[d.splits["test"]].tolist()) == {1}
    assert set(d.subject[d.splits["train"]].tolist()) == {2}
    assert (
        build("things_eeg2", root=str(root), subjects=2, train_images_per_concept=2).n_trials == 9
    )
    with pytest.raises(ConfigError, match="fixed zero-shot test set"):
        build("things_eeg2", root=str(root), split="random")
    with pytest.raises(ConfigError, match="available subjects are \\[1, 2\\]"):
        build("things_eeg2", root=str(root), subjects="3")
    bad = root / "sub-02" / "preprocessed_eeg_test.npy"
    np.save(
        bad,
        {"preprocessed_eeg_data": np.zeros((3, 5, 20)), "ch_names": CH, "times": np.arange(20)},
        allow_pickle=True,
    )
    with pytest.raises(
        DataError, match="sub-02.*shape \\(3, 5, 20\\), expected \\[images, repeats"
    ):
        build("things_eeg2", root=str(root), subjects="all")
    empty = things_eeg(N_TEST, R_TEST, N_TRAIN, 2)
    empty["preprocessed_eeg_data"] = empty["preprocessed_eeg_data"][:0]
    np.save(bad, empty, allow_pickle=True)
    with pytest.raises(DataError, match="at least one image and repeat"):
        build("things_eeg2", root=str(root), subjects="2")
    np.save(bad, {"ch_names": CH}, allow_pickle=True)
    with pytest.raises(DataError, match="lacks key\\(s\\) preprocessed_eeg_data, times"):
        build("things_eeg2", root=str(root), subjects="2")
    np.save(bad, np.zeros(3))
    with pytest.raises(DataError, match="expected a dict"):
        build("things_eeg2", root=str(root), subjects="2")
    with pytest.raises(DataError, match="groups of train_images_per_concept=4"):
        build("things_eeg2", root=str(root), train_images_per_concept=4)


# ---------------------------------------------------------------- MNE epochs / BIDS


def test_mne_epochs_event_map_and_file_event_id(tmp_path):
    path = tmp_path / "sub01-epo.fif"
    epochs().save(path, verbose="error")
    d = build("mne_epochs", path=str(path))
    assert d.class_names == ["face", "house", "car"] and d.ch_names == ["Fz", "O1", "O2"]
    assert np.allclose(d.X[:, 0, 0], d.y + 1)  # code in uV, class order = code order
    assert d.X.shape == (24, 3, 60) and d.sfreq == 100.0 and d.info["tmin"] == pytest.approx(-0.1)
    d2 = build("mne_epochs", path=str(path), event_map="object:3,object:2", split="random")
    assert d2.class_names == ["object"] and d2.n_trials == 16
    assert d2.info["dropped_unmapped"] == 8
    with pytest.raises(DataError, match="event code\\(s\\) \\[9\\]"):
        build("mne_epochs", path=str(path), event_map="face:1,other:9")
    with pytest.raises(ConfigError, match="name:code"):
        build("mne_epochs", path=str(path), event_map="face=1")


def test_mne_epochs_stimulus_csv(tmp_path):
    path = tmp_path / "s-epo.fif"
    epochs().save(path, verbose="error")
    (tmp_path / "stim").mkdir()
    rows = ["trial,image,caption"]
    for i in range(24):
        img = f"stim/img{i % 12:02d}.png"
        rows.append(f"{i},{img},a picture number {i % 12}")
        (tmp_path / img).write_bytes(b"png")
    csv = tmp_path / "stimuli.csv"
    csv.write_text("\n".join(rows) + "\n")
    d = build(
        "mne_epochs",
        path=str(path),
        stimuli_csv=str(csv),
        val_fraction=0.25,
        test_fraction=0.25,
        stratify=False,
    )
    assert len(d.image_names) == 12 and d.captions[5] == "a picture number 5"
    assert d.image_paths[0] == str(tmp_path / "stim" / "img00.png")
    assert d.split_overlap("train", "test") == set()
    assert sorted(np.bincount(d.image)) == [2] * 12
    # event-keyed table with a published split column
    csv2 = tmp_path / "by_event.csv"
    csv2.write_text("event,image,split\n1,faces.png,train\n2,houses.png,val\n3,cars.png,test\n")
    d2 = build("mne_epochs", path=str(path), stimuli_csv=str(csv2))
    assert d2.info["split"] == "published" and d2.image_paths is None
    assert set(d2.y[d2.splits["test"]].tolist()) == {2}
    csv.write_text("trial,image\n0,a.png\n")
    with pytest.raises(DataError, match="no row for trial"):
        build("mne_epochs", path=str(path), stimuli_csv=str(csv))


def test_mne_epochs_errors(tmp_path):
    bad = tmp_path / "bad-epo.fif"
    bad.write_bytes(b"\x00" * 64)
    with pytest.raises(DataError, match="bad-epo.fif.*not a readable MNE epochs file"):
        build("mne_epochs", path=str(bad))
    with pytest.raises(DataError, match="does not exist"):
        build("mne_epochs", path=str(tmp_path / "none-epo.fif"))
    with pytest.raises(ConfigError, match="split=published"):
        path = tmp_path / "ok-epo.fif"
        epochs().save(path, verbose="error")
        build("mne_epochs", path=str(path), split="published")


def test_bids_needs_mne_bids(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "mne_bids", None)
    with pytest.raises(ConfigError, match="pip install mne-bids"):
        build("bids", bids_root=str(tmp_path), bids_subject="01")


def test_bids_recording_is_epoched_around_annotations(tmp_path):
    mne_bids = pytest.importorskip("mne_bids")
    pytest.importorskip("pybv")
    import mne

    sf = 100.0
    x = np.random.default_rng(1).normal(size=(3, 1200)) * 1e-6
    raw = mne.io.RawArray(x, mne.create_info(["O1", "Oz", "O2"], sf, "eeg"), verbose="error")
    onsets = np.arange(1.0, 11.0, 1.0)
    raw.set_annotations(mne.Annotations(onsets, 0.0, ["face", "house"] * 5))
    bp = mne_bids.BIDSPath(subject="01", task="view", root=tmp_path / "bids", datatype="eeg")
    mne_bids.write_raw_bids(raw, bp, allow_preload=True, format="BrainVision", verbose="error")
    d = build(
        "bids",
        bids_root=str(tmp_path / "bids"),
        bids_subject=1,  # a number, as the command line delivers "01"
        task="view",
        tmin=-0.1,
        tmax=0.4,
    )
    assert d.n_trials == 10 and d.X.shape[1:] == (3, 51)
    assert sorted(d.class_names) == ["face", "house"]
    assert np.bincount(d.y).tolist() == [5, 5]
