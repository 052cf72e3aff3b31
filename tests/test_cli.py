"""The command line, in process: train -> evaluate -> recommend, datasets, demo, and one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from deeptarget.cli.main import app, parse_overrides

runner = CliRunner()

SMALL = {"n_users": 150, "n_items": 80, "seed": 3}


def _write_config(path: Path, model: str = "ease", params: dict | None = None) -> Path:
    config = {
        "name": "cli-test",
        "data": {"dataset": "synthetic", "params": SMALL},
        "split": {"method": "random", "ratios": [0.8, 0.1, 0.1], "seed": 1},
        "model": {"name": model, "params": params or {}},
        "evaluation": {"ks": [5, 10]},
    }
    path.write_text(yaml.safe_dump(config))
    return path


def test_train_evaluate_recommend_round_trip(tmp_path: Path) -> None:
    config = _write_config(tmp_path / "run.yaml")
    run_dir = tmp_path / "run"
    result = runner.invoke(app, ["train", str(config), "--out", str(run_dir), "--set", "model.params.l2=50"])
    assert result.exit_code == 0, result.output
    for name in ("config.yaml", "metrics.json", "cleaning.json", "model/weights.safetensors"):
        assert (run_dir / name).is_file(), name
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert set(metrics["test"]) >= {"precision@10", "recall@10", "ndcg@10", "map@10", "mrr@10", "hit@10"}
    assert "ndcg@10" in metrics["valid"]
    assert metrics["protocol"]["split"]["method"] == "random"
    assert metrics["fit_seconds"] >= 0
    resolved = yaml.safe_load((run_dir / "config.yaml").read_text())
    assert resolved["model"]["params"]["l2"] == 50  # --set landed in the resolved config

    result = runner.invoke(app, ["evaluate", str(run_dir), "--json"])
    assert result.exit_code == 0, result.output
    again = json.loads(result.stdout)
    assert again["test"]["ndcg@10"] == pytest.approx(metrics["test"]["ndcg@10"], abs=1e-6)

    user = str(json.loads((run_dir / "model" / "encoders.json").read_text())["user"]["ids"][0])
    result = runner.invoke(app, ["recommend", str(run_dir), "--user", user, "-k", "5", "--json"])
    assert result.exit_code == 0, result.output
    recs = json.loads(result.stdout)
    assert len(recs["items"]) == 5
    assert [r["rank"] for r in recs["items"]] == [1, 2, 3, 4, 5]
    scores = [r["score"] for r in recs["items"]]
    assert scores == sorted(scores, reverse=True)

    result = runner.invoke(app, ["recommend", str(run_dir), "--user", user, "-k", "3"])
    assert result.exit_code == 0
    assert "Top 3" in result.stdout


def test_errors_are_one_line_not_a_traceback(tmp_path: Path) -> None:
    result = runner.invoke(app, ["train", str(tmp_path / "missing.yaml"), "--out", str(tmp_path / "r")])
    assert result.exit_code == 2
    assert "missing.yaml" in result.stderr and "Traceback" not in result.output + result.stderr

    bad = _write_config(tmp_path / "bad.yaml", model="no-such-model")
    result = runner.invoke(app, ["train", str(bad), "--out", str(tmp_path / "r")])
    assert result.exit_code == 2
    error_lines = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(error_lines) == 1
    assert "unknown model 'no-such-model'" in error_lines[0]
    assert "Traceback" not in result.stderr

    result = runner.invoke(app, ["evaluate", str(tmp_path)])
    assert result.exit_code == 2
    assert "config.yaml" in result.stderr


def test_unknown_user_is_a_clear_error(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    assert runner.invoke(app, ["train", str(_write_config(tmp_path / "c.yaml")), "--out", str(run_dir)]).exit_code == 0
    result = runner.invoke(app, ["recommend", str(run_dir), "--user", "no-such-user"])
    assert result.exit_code == 2
    assert "unknown user id" in result.stderr


def test_datasets_lists_loaders_and_whether_files_were_found(tmp_path: Path) -> None:
    result = runner.invoke(app, ["datasets", "--data-dir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    for name in ("movielens-100k", "movielens-latest-small", "amazon-beauty", "synthetic"):
        assert name in result.stdout
    assert "no" in result.stdout


@pytest.mark.realdata
def test_datasets_finds_the_real_files(real_data_dir: Path) -> None:
    result = runner.invoke(app, ["datasets", "--data-dir", str(real_data_dir)], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    line = next(line for line in result.stdout.splitlines() if "movielens-100k " in line)
    assert " yes " in line


def test_demo_trains_baselines_and_exports_recommendations(tmp_path: Path) -> None:
    import pandas as pd

    result = runner.invoke(app, ["demo", "--out", str(tmp_path / "demo"), "--users", "200", "--items", "60"])
    assert result.exit_code == 0, result.output
    for name in ("popularity", "itemknn", "ease"):
        assert name in result.stdout
        assert (tmp_path / "demo" / name / "metrics.json").is_file()
    recs = pd.read_parquet(tmp_path / "demo" / "recommendations.parquet")
    assert recs["user"].nunique() == 200
    assert recs.groupby("user").size().max() == 10
    assert list(recs.columns) == ["user", "rank", "item", "score"]


def test_parse_overrides_reads_yaml_scalars() -> None:
    assert parse_overrides(["a.b=3", "c=[5, 10]", "d=true", "e=text"]) == {
        "a.b": 3,
        "c": [5, 10],
        "d": True,
        "e": "text",
    }


CONFIGS = sorted((Path(__file__).resolve().parents[1] / "configs").glob("*.yaml"))


@pytest.mark.parametrize("config_file", CONFIGS, ids=lambda p: p.name)
def test_every_shipped_config_parses_into_a_registered_model(config_file: Path) -> None:
    from deeptarget.config import RunConfig
    from deeptarget.marketing.campaigns import ResponseRunConfig
    from deeptarget.registry import CLASSIFIERS
    from deeptarget.runs import build_model

    raw = yaml.safe_load(config_file.read_text())
    if raw.get("task") == "response":
        response = ResponseRunConfig.from_dict(raw)
        assert response.name == config_file.stem and response.model.name in CLASSIFIERS
        return
    if raw.get("task") == "credit":
        from deeptarget.marketing.credit import CreditRunConfig

        credit = CreditRunConfig.from_dict(raw)
        assert credit.name == config_file.stem and credit.model.name in CLASSIFIERS
        return
    if raw.get("task") == "uplift":
        from deeptarget.marketing.uplift import UpliftRunConfig

        uplift = UpliftRunConfig.from_dict(raw)
        assert uplift.name == config_file.stem and uplift.model.name in CLASSIFIERS
        return
    if raw.get("task") == "intent":
        from deeptarget.marketing.assistant import IntentRunConfig

        intent = IntentRunConfig.from_dict(raw)
        assert intent.name == config_file.stem and intent.model.name in CLASSIFIERS
        return
    config = RunConfig.from_dict(raw)
    model = build_model(config.model)
    assert model.config is not None and config.name == config_file.stem


def test_deep_model_on_your_own_csv_in_one_line(tmp_path: Path) -> None:
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(0)
    users = rng.integers(0, 80, 2500)
    items = (users % 5) * 12 + rng.integers(0, 15, 2500)  # five taste groups
    pd.DataFrame({"customer_id": users, "sku": [f"sku-{i}" for i in items]}).to_csv(tmp_path / "buys.csv", index=False)
    config = Path(__file__).resolve().parents[1] / "configs" / "csv-multvae.yaml"
    args = ["train", str(config), "--out", str(tmp_path / "vae"), "--set", f"data.path={tmp_path / 'buys.csv'}"]
    args += ["--set", "data.columns.user=customer_id", "--set", "data.columns.item=sku"]
    result = runner.invoke(app, [*args, "--set", "model.params.train.epochs=15"])
    assert result.exit_code == 0, result.output
    metrics = json.loads((tmp_path / "vae" / "metrics.json").read_text())
    # a random ranking of the ~70 unseen items puts a group's held-out item in the top 10 far less often
    assert metrics["test"]["hit@10"] > 0.5
    assert (tmp_path / "vae" / "history.csv").is_file() and (tmp_path / "vae" / "learning_curve.png").is_file()


def test_ensemble_run_plots_each_members_learning_curve(tmp_path: Path) -> None:
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(1)
    users = rng.integers(0, 60, 1500)
    items = (users % 3) * 10 + rng.integers(0, 10, 1500)
    pd.DataFrame({"customer_id": users, "sku": items}).to_csv(tmp_path / "buys.csv", index=False)
    config = Path(__file__).resolve().parents[1] / "configs" / "csv-multvae.yaml"
    args = ["train", str(config), "--out", str(tmp_path / "dae"), "--set", f"data.path={tmp_path / 'buys.csv'}"]
    args += ["--set", "data.columns.user=customer_id", "--set", "data.columns.item=sku", "--set", "model.name=multdae"]
    args += ["--set", "model.params={n_members: 2, train: {epochs: 4, checkpoint: false}}"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    for member in ("0", "1"):
        folder = tmp_path / "dae" / "members" / member
        assert (folder / "history.csv").is_file() and (folder / "learning_curve.png").is_file()


def test_response_run_and_audience(tmp_path: Path) -> None:
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(0)
    n = 3000
    tenure = rng.integers(0, 10, n)
    plan = rng.choice(["basic", "gold"], n)
    p = 0.05 + 0.4 * (plan == "gold") * (tenure > 5)
    frame = pd.DataFrame(
        {"id": np.arange(n), "tenure": tenure, "plan": plan, "bought": (rng.random(n) < p).astype(int)}
    )
    frame.to_csv(tmp_path / "customers.csv", index=False)
    config = {
        "task": "response",
        "name": "cli-response",
        "data": {"path": str(tmp_path / "customers.csv"), "label": "bought", "drop": ["id"]},
        "split": {"method": "random", "ratios": [0.7, 0.15, 0.15], "seed": 1},
        "model": {"name": "logreg", "params": {"train": {"epochs": 15, "lr": 0.05, "monitor": "valid/auc"}}},
    }
    (tmp_path / "response.yaml").write_text(yaml.safe_dump(config))
    result = runner.invoke(app, ["train", str(tmp_path / "response.yaml"), "--out", str(tmp_path / "run")])
    assert result.exit_code == 0, result.output
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert metrics["test"]["auc"] > 0.75 and metrics["protocol"]["rows"]["test"] == 450
    assert metrics["calibration"]["method"] == "temperature" and "ece_after" in metrics["calibration"]["test"]
    assert metrics["test"]["lift@10%"] > 1.5
    run = tmp_path / "run"
    for png in ("roc.png", "gains.png", "lift.png", "calibration.png", "learning_curve.png"):
        assert (run / png).stat().st_size > 1000, png
    predictions = pd.read_parquet(run / "predictions.parquet")
    assert predictions["split"].value_counts().to_dict() == {"test": 450, "valid": 450}
    assert len(pd.read_csv(run / "gains_test.csv")) == 10

    fresh = frame.drop(columns=["bought"]).head(1000)
    fresh.to_csv(tmp_path / "fresh.csv", index=False)
    args = ["audience", str(tmp_path / "run"), "--data", str(tmp_path / "fresh.csv"), "--budget", "150"]
    result = runner.invoke(app, [*args, "--cost-per-contact", "1.5", "--value-per-response", "40"])
    assert result.exit_code == 0, result.output
    assert "expected lift over random targeting" in result.output
    chosen = pd.read_csv(tmp_path / "fresh.audience.csv")
    assert len(chosen) == 100  # the budget buys 100 contacts
    # the most promising customers (gold, long tenure) fill the audience
    assert ((chosen["plan"] == "gold") & (chosen["tenure"] > 5)).mean() > 0.9
    assert chosen["score"].is_monotonic_decreasing

    result = runner.invoke(
        app,
        [
            "audience",
            str(tmp_path),
            "--data",
            str(tmp_path / "fresh.csv"),
            "--cost-per-contact",
            "1",
            "--value-per-response",
            "2",
        ],
    )
    assert result.exit_code == 2 and "not a response run" in result.output


def _campaign_file(path: Path, n: int, seed: int) -> None:
    """A randomised test: the e-mail moves young customers (+30 points), the SMS nobody."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    age = rng.choice(["young", "old"], n)
    arm = rng.choice(["email", "sms", "none"], n)
    p = 0.1 + 0.3 * ((arm == "email") & (age == "young"))
    spend = rng.normal(50, 10, n).round(2)
    frame = pd.DataFrame({"age": age, "spend": spend, "group": arm, "bought": (rng.random(n) < p).astype(int)})
    frame.to_csv(path, index=False)


def test_uplift_run_and_audience_by_uplift(tmp_path: Path) -> None:
    import pandas as pd

    _campaign_file(tmp_path / "test.csv", 6000, 0)
    config = {
        "task": "uplift",
        "name": "cli-uplift",
        "data": {"path": str(tmp_path / "test.csv"), "label": "bought", "treatment": "group", "control": "none"},
        "split": {"test_share": 0.3, "seed": 1},
        "learner": "t-learner",
        "model": {"name": "logreg", "params": {"train": {"epochs": 10, "lr": 0.05}}},
    }
    (tmp_path / "uplift.yaml").write_text(yaml.safe_dump(config))
    result = runner.invoke(app, ["train", str(tmp_path / "uplift.yaml"), "--out", str(tmp_path / "run")])
    assert result.exit_code == 0, result.output
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    email, sms = metrics["test"]["email"], metrics["test"]["sms"]
    # the planted average effect of the e-mail is +15 points (half the customers are young), of the SMS 0
    assert abs(email["effect_predicted"] - 0.15) < 0.03 and abs(sms["effect_predicted"]) < 0.03
    assert abs(email["effect_observed"] - 0.15) < 0.04
    rows = metrics["protocol"]["rows"]
    assert email["qini_uplift"] > 0.01 and rows["train"] + rows["test"] == 6000 and abs(rows["test"] - 1800) <= 6
    assert (tmp_path / "run" / "qini.png").stat().st_size > 1000

    customers = pd.DataFrame({"age": ["old", "young"] * 100, "spend": [50.0] * 200})
    customers.to_csv(tmp_path / "customers.csv", index=False)
    args = ["audience", str(tmp_path / "run"), "--data", str(tmp_path / "customers.csv"), "--budget", "1000"]
    result = runner.invoke(app, [*args, "--cost-per-contact", "1", "--value-per-response", "10"])
    assert result.exit_code == 0, result.output
    assert "expected incremental profit" in result.output
    chosen = pd.read_csv(tmp_path / "customers.audience.csv")
    # only the young are worth an e-mail (0.3 * 10 > 1); nobody is worth an SMS
    assert len(chosen) == 100 and set(chosen["age"]) == {"young"} and set(chosen["arm"]) == {"email"}
    result = runner.invoke(app, [*args, "--cost-per-contact", "1", "--value-per-response", "10", "--arm", "post"])
    assert result.exit_code == 2 and "treated arms are" in result.output


def test_credit_run_and_score(tmp_path: Path) -> None:
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(0)
    n = 4000
    late = rng.integers(0, 5, n)
    income = rng.lognormal(8, 0.5, n).round(0)
    sex = rng.choice(["f", "m"], n)
    logit = -2.5 + 0.8 * late - 0.8 * (np.log(income) - 8)
    frame = pd.DataFrame(
        {
            "id": np.arange(n),
            "late": late,
            "income": income,
            "sex": sex,
            "age": rng.integers(20, 70, n),
            "defaulted": (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int),
        }
    )
    frame.to_csv(tmp_path / "loans.csv", index=False)
    config = {
        "task": "credit",
        "name": "cli-credit",
        "data": {
            "path": str(tmp_path / "loans.csv"),
            "label": "defaulted",
            "drop": ["id", "sex"],
            "sensitive": {"sex": "sex", "age": "age"},
        },
        "split": {"test_share": 0.25, "valid_share": 0.1, "seed": 3},
        "model": {"name": "scorecard"},
        "pricing": {"lgd": 0.5, "pd_cutoff": 0.3},
    }
    (tmp_path / "credit.yaml").write_text(yaml.safe_dump(config))
    result = runner.invoke(app, ["train", str(tmp_path / "credit.yaml"), "--out", str(tmp_path / "run")])
    assert result.exit_code == 0, result.output
    run = tmp_path / "run"
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["test"]["auc"] > 0.7 and metrics["protocol"]["rows"]["test"] == 1000
    assert {"gini", "ks", "brier", "psi"} <= set(metrics["test"]) and len(metrics["calibration_by_decile"]) == 10
    assert {row["sex"] for row in metrics["fairness"]["sex"]} == {"f", "m"}
    report = (run / "validation_report.md").read_text()
    assert "## Fairness by group" in report and "ks.png" in report and (run / "ks.png").stat().st_size > 1000

    applicants = frame.drop(columns=["defaulted"]).head(50).assign(amount=5000.0)
    applicants.to_csv(tmp_path / "applicants.csv", index=False)
    args = ["credit", "score", str(run), "--data", str(tmp_path / "applicants.csv"), "--exposure-column", "amount"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    decisions = pd.read_csv(tmp_path / "applicants.decisions.csv")
    assert len(decisions) == 50 and set(decisions["decision"]) <= {"approve", "decline"}
    declined = decisions["decision"] == "decline"
    assert (decisions.loc[declined, "pd"] > 0.3).all() and (decisions.loc[~declined, "pd"] <= 0.3).all()
    # the riskiest applicants are declined with "late" among their reasons
    assert (decisions.loc[decisions["pd"].idxmax(), ["reason_1", "reason_2"]] == "late").any()
    approved = decisions.loc[~declined]
    assert np.allclose(approved["expected_profit"], 5000 * 0.02)  # priced to earn the target margin
    result = runner.invoke(app, ["credit", "score", str(tmp_path), "--data", str(tmp_path / "applicants.csv")])
    assert result.exit_code == 2 and "not a credit run" in result.output
