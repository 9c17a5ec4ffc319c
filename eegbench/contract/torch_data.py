"""EEGData's trials as a torch ``Dataset`` (``EEGData.torch_dataset()``)."""

from __future__ import annotations

import numpy as np
import torch
from torch.utils.data import Dataset

from eegbench.contract.data import EEGData
from eegbench.contract.export import trial_indices


class TrialDataset(Dataset):
    """The trials of an EEGData (all, or one split) as ``(x [C, T] float32 tensor, class
    index)``; ``image`` and ``subject`` hold each item's image index and subject."""

    def __init__(self, data: EEGData, split: str | None = None) -> None:
        self.data = data
        self.indices = trial_indices(data, split)
        self.image = data.image[self.indices]
        self.subject = data.subject[self.indices]

    def __len__(self) -> int:
        return int(self.indices.size)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        k = self.indices[i]
        return torch.from_numpy(np.array(self.data.X[k], dtype=np.float32)), int(self.data.y[k])
