"""Public intent-classification datasets: labelled customer utterances with their official splits.

Each loader returns an :class:`IntentData`: ``train``, ``valid`` and ``test`` frames with columns ``text`` and
``intent``. Out-of-scope utterances (CLINC150) carry the label :data:`OOS_LABEL`. They are registered in
:data:`deeptarget.registry.DATASETS` (so ``deeptarget datasets`` lists them) and read with :func:`load_intents`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from deeptarget.data.datasets.base import Dataset, LoadedDataset
from deeptarget.data.datasets.paths import require_files
from deeptarget.errors import ConfigError, DataError
from deeptarget.registry import DATASETS

__all__ = [
    "OOS_LABEL",
    "Banking77",
    "Clinc150",
    "IntentData",
    "IntentDataset",
    "load_intents",
    "read_intent_csv",
    "stratified_holdout",
]

#: Label of an out-of-scope utterance (one no intent of the assistant covers), as CLINC150 writes it.
OOS_LABEL = "oos"


@dataclass(frozen=True)
class IntentData:
    """Labelled utterances split into ``train``, ``valid`` and ``test`` (columns ``text``, ``intent``).

    ``intents`` lists the in-scope intents (without :data:`OOS_LABEL`), in the dataset's order.
    """

    train: pd.DataFrame
    valid: pd.DataFrame
    test: pd.DataFrame
    intents: tuple[str, ...]
    source: str
    extras: dict[str, Any] = field(default_factory=dict)

    def sizes(self) -> dict[str, int]:
        """Rows of each split."""
        return {"train": len(self.train), "valid": len(self.valid), "test": len(self.test)}


def stratified_holdout(labels: pd.Series, share: float, seed: int) -> np.ndarray:
    """A boolean mask holding out ``round(share * n)`` rows of every label (seeded), e.g. a validation split.

    Examples
    --------
    >>> mask = stratified_holdout(pd.Series(["a"] * 10 + ["b"] * 20), 0.1, seed=0)
    >>> int(mask[:10].sum()), int(mask[10:].sum())
    (1, 2)
    """
    if not 0.0 <= share < 1.0:
        raise ConfigError(f"holdout share must be in [0, 1), got {share}")
    rng = np.random.default_rng(seed)
    mask = np.zeros(len(labels), dtype=bool)
    values = labels.to_numpy()
    for value in pd.unique(values):
        rows = rng.permutation(np.flatnonzero(values == value))
        mask[rows[: round(len(rows) * share)]] = True
    return mask


def read_intent_csv(path: str | Path, text_column: str = "text", intent_column: str = "intent") -> pd.DataFrame:
    """A CSV of labelled utterances as a frame with columns ``text`` and ``intent``.

    Raises :class:`~deeptarget.errors.DataError` naming the file, column and first row (1-based line number) with
    an empty text or label.
    """
    path = Path(path)
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    for column in (text_column, intent_column):
        if column not in frame.columns:
            raise DataError(f"no column {column!r} (columns: {list(frame.columns)})", file=str(path), column=column)
        empty = np.flatnonzero(frame[column].str.strip().to_numpy() == "")
        if len(empty):
            raise DataError("empty value", file=str(path), column=column, row=f"line {int(empty[0]) + 2}")
    return pd.DataFrame({"text": frame[text_column].to_numpy(), "intent": frame[intent_column].to_numpy()})


class IntentDataset(Dataset):
    """A registered intent dataset: read it with :meth:`load_intents`."""

    def load(self, data_dir: Path, **params: Any) -> LoadedDataset:
        raise ConfigError(
            f"dataset {self.name!r} holds labelled utterances, not user-item interactions; "
            "read it with deeptarget.data.datasets.intents.load_intents"
        )

    def load_intents(self, data_dir: str | Path, *, valid_share: float = 0.1, seed: int = 2020) -> IntentData:
        """Read the splits from ``data_dir`` (:class:`DataError` naming what is missing).

        ``valid_share`` and ``seed`` make a stratified validation split out of the training rows for datasets
        that have no official one.
        """
        return self._read(require_files(self, data_dir), valid_share, seed)

    def _read(self, root: Path, valid_share: float, seed: int) -> IntentData:  # pragma: no cover - overridden
        raise NotImplementedError


class Banking77(IntentDataset):
    """BANKING77: 13,083 online-banking customer questions in 77 fine-grained intents (no out-of-scope class).

    Official train (10,003) and test (3,080) files; the validation split is a seeded, stratified
    ``valid_share`` of the training rows (there is no official one).

    References
    ----------
    Casanueva, I. et al. (2020), "Efficient Intent Detection with Dual Sentence Encoders", NLP4ConvAI @ ACL.
    """

    name: ClassVar[str] = "banking77"
    description: ClassVar[str] = "BANKING77: online-banking questions, 77 intents, official train/test"
    licence: ClassVar[str] = "CC BY 4.0"
    folder: ClassVar[str] = "banking77"
    required_files: ClassVar[tuple[str, ...]] = ("train.csv", "test.csv", "categories.json")

    def _read(self, root: Path, valid_share: float, seed: int) -> IntentData:
        train = read_intent_csv(root / "train.csv", intent_column="category")
        test = read_intent_csv(root / "test.csv", intent_column="category")
        intents = tuple(_json_strings(root / "categories.json"))
        for split, frame in (("train.csv", train), ("test.csv", test)):
            unknown = ~frame["intent"].isin(intents)
            if unknown.any():
                row = int(np.flatnonzero(unknown.to_numpy())[0])
                raise DataError(
                    "intent not listed in categories.json",
                    file=str(root / split),
                    column="category",
                    row={row + 2: frame["intent"].iloc[row]},
                )
        holdout = stratified_holdout(train["intent"], valid_share, seed)
        return IntentData(
            train=train[~holdout].reset_index(drop=True),
            valid=train[holdout].reset_index(drop=True),
            test=test,
            intents=intents,
            source=str(root),
            extras={"valid": f"stratified {valid_share:.0%} of train.csv (seed {seed})"},
        )


class Clinc150(IntentDataset):
    """CLINC150 ``data_full``: 150 intents in 10 domains plus out-of-scope queries (label ``oos``).

    Official splits: train 15,000 + 100 out-of-scope, valid 3,000 + 100, test 4,500 + 1,000.

    References
    ----------
    Larson, S. et al. (2019), "An Evaluation Dataset for Intent Classification and Out-of-Scope Prediction",
    EMNLP-IJCNLP.
    """

    name: ClassVar[str] = "clinc150"
    description: ClassVar[str] = "CLINC150 (full): 150 intents + out-of-scope queries, official train/val/test"
    licence: ClassVar[str] = "CC BY 3.0"
    folder: ClassVar[str] = "clinc150"
    required_files: ClassVar[tuple[str, ...]] = ("data_full.json",)

    def _read(self, root: Path, valid_share: float, seed: int) -> IntentData:
        path = root / "data_full.json"
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as error:
            raise DataError(f"not valid JSON ({error})", file=str(path)) from None
        parts = {}
        for split, key in (("train", "train"), ("valid", "val"), ("test", "test")):
            frames = [_pairs(raw, key, path), _pairs(raw, f"oos_{key}", path)]
            parts[split] = pd.concat(frames, ignore_index=True)
        intents = tuple(pd.unique(parts["train"]["intent"][parts["train"]["intent"] != OOS_LABEL]))
        return IntentData(
            train=parts["train"], valid=parts["valid"], test=parts["test"], intents=intents, source=str(path)
        )


def _pairs(raw: Any, key: str, path: Path) -> pd.DataFrame:
    if not isinstance(raw, dict) or key not in raw:
        raise DataError(f"expected a top-level key {key!r}", file=str(path))
    rows = raw[key]
    for index, pair in enumerate(rows):
        if not (isinstance(pair, list) and len(pair) == 2 and all(isinstance(v, str) and v for v in pair)):
            raise DataError(f"{key}[{index}]: expected [text, intent]", file=str(path), row=pair)
    return pd.DataFrame(rows, columns=["text", "intent"])


def _json_strings(path: Path) -> list[str]:
    try:
        values = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise DataError(f"not valid JSON ({error})", file=str(path)) from None
    if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
        raise DataError("expected a JSON list of intent names", file=str(path))
    return values


def load_intents(name: str, data_dir: str | Path, *, valid_share: float = 0.1, seed: int = 2020) -> IntentData:
    """Load the registered intent dataset ``name`` from ``data_dir``.

    Examples
    --------
    >>> data = load_intents("banking77", "/data/public")  # doctest: +SKIP
    >>> data.sizes(), len(data.intents)  # doctest: +SKIP
    ({'train': 9002, 'valid': 1001, 'test': 3080}, 77)
    """
    dataset = DATASETS.get(name)
    if not isinstance(dataset, IntentDataset):
        raise ConfigError(f"dataset {name!r} is not an intent dataset; intent datasets: banking77, clinc150")
    return dataset.load_intents(data_dir, valid_share=valid_share, seed=seed)


DATASETS.register(Banking77.name)(Banking77())
DATASETS.register(Clinc150.name)(Clinc150())
