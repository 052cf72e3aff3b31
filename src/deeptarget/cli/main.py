"""The ``deeptarget`` command line: train, evaluate, recommend, audience, credit, registry, serve, datasets, demo.

This is the only layer that reads ``sys.argv`` and the environment (``DEEPTARGET_DATA``, and for the service
``DEEPTARGET_REGISTRY``, ``DEEPTARGET_EVENTS_URL``, ``DEEPTARGET_API_KEY``). Errors the user can
fix are printed as one line (``error: ...``) with exit code 2, never as a traceback.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, ParamSpec, TypeVar

import typer
import yaml
from rich.console import Console
from rich.logging import RichHandler
from rich.table import Table

from deeptarget import __version__
from deeptarget.cli.tables import metrics_table
from deeptarget.errors import DeepTargetError

P = ParamSpec("P")
R = TypeVar("R")

DATA_ENV = "DEEPTARGET_DATA"
REGISTRY_ENV = "DEEPTARGET_REGISTRY"
EVENTS_ENV = "DEEPTARGET_EVENTS_URL"
API_KEY_ENV = "DEEPTARGET_API_KEY"

app = typer.Typer(
    name="deeptarget",
    help="DeepTarget: deep learning for precision marketing, from raw customer data to decisions.",
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
credit_app = typer.Typer(help="Credit decisions from a credit run: score, price and explain applicants.")
app.add_typer(credit_app, name="credit", no_args_is_help=True)
registry_app = typer.Typer(help="The model registry the service serves from: add, promote, rollback, list.")
app.add_typer(registry_app, name="registry", no_args_is_help=True)
# Pipes and CI logs are not 80-column terminals: give tables room there.
out = Console() if Console().is_terminal else Console(width=120)
err = Console(stderr=True)
logger = logging.getLogger("deeptarget.cli")


def _fail(message: str) -> typer.Exit:
    err.print(f"[bold red]error:[/] {message}", highlight=False, markup=True, soft_wrap=True)
    return typer.Exit(code=2)


def friendly_errors(func: Callable[P, R]) -> Callable[P, R]:
    """Turn the errors a user can fix into one clear line and exit code 2."""

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return func(*args, **kwargs)
        except DeepTargetError as exc:
            raise _fail(str(exc)) from None
        except FileNotFoundError as exc:
            raise _fail(f"{exc.filename}: no such file or directory") from None
        except yaml.YAMLError as exc:
            raise _fail(f"invalid YAML: {exc}") from None
        except KeyboardInterrupt:
            raise _fail("interrupted") from None

    return wrapper


def data_dir_option(value: str | None) -> str | None:
    """``--data-dir`` if given, else ``$DEEPTARGET_DATA``, else ``None`` (the loaders' user cache directory)."""
    if value:
        return str(Path(value).expanduser().resolve())
    env = os.environ.get(DATA_ENV)
    return str(Path(env).expanduser().resolve()) if env else None


DataDirOpt = Annotated[
    str | None,
    typer.Option(
        "--data-dir",
        help=f"Folder holding the public datasets (default: ${DATA_ENV}, else the user cache directory).",
        show_default=False,
    ),
]


RegistryOpt = Annotated[
    Path,
    typer.Option("--registry", envvar=REGISTRY_ENV, help=f"Model registry folder (or ${REGISTRY_ENV})."),
]


@app.callback(invoke_without_command=True)
def _main(
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Debug logging.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Warnings and errors only.")] = False,
    version: Annotated[bool, typer.Option("--version", help="Print the version and exit.")] = False,
) -> None:
    if version:
        out.print(f"deeptarget {__version__}")
        raise typer.Exit()
    level = logging.DEBUG if verbose else logging.WARNING if quiet else logging.INFO
    root = logging.getLogger("deeptarget")
    root.handlers[:] = [RichHandler(console=err, show_path=False, show_time=False, markup=False)]
    root.setLevel(level)
    root.propagate = False


def parse_overrides(pairs: list[str]) -> dict[str, Any]:
    """``["model.params.l2=100", "split.seed=1"]`` -> ``{"model.params.l2": 100, "split.seed": 1}``.

    Values are parsed as YAML scalars/lists (``[5, 10]``, ``true``, ``3e-4``); anything else stays a string.
    """
    overrides: dict[str, Any] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep or not key.strip():
            raise typer.BadParameter(f"expected key=value, got {pair!r}", param_hint="--set")
        try:
            value = yaml.safe_load(raw) if raw.strip() else ""
        except yaml.YAMLError:
            value = raw
        overrides[key.strip()] = value
    return overrides


def _read_config_file(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise FileNotFoundError(2, "no such file", str(path))
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise typer.BadParameter(f"{path}: expected a YAML mapping at the top level", param_hint="CONFIG")
    return raw


@app.command()
@friendly_errors
def train(
    config: Annotated[Path, typer.Argument(help="Run config (YAML): data, split, model, evaluation.")],
    out_dir: Annotated[Path, typer.Option("--out", "-o", help="Run directory to write.")],
    overrides: Annotated[
        list[str] | None,
        typer.Option("--set", "-s", help="Override a config field: --set model.params.l2=250 (repeatable)."),
    ] = None,
    data_dir: DataDirOpt = None,
    resume: Annotated[
        bool, typer.Option("--resume", help="Continue a crashed run from the last checkpoint in --out.")
    ] = False,
) -> None:
    """Train the model a config names and write a run directory (config, model, metrics, cleaning report).

    A config with `task: response` trains a response / CTR model on a customer table instead, `task: uplift`
    a T- or X-learner on a randomised campaign test (see docs/campaigns.md), and `task: credit` a
    probability-of-default model with its validation report (see docs/credit.md), and `task: intent` an intent
    classifier for the customer-service assistant (see docs/assistant.md).
    """
    from deeptarget.config import RunConfig
    from deeptarget.runs import train_run, with_overrides

    raw = _read_config_file(config)
    if raw.get("task") == "response":
        _train_response(raw, out_dir, parse_overrides(overrides or []), data_dir)
        return
    if raw.get("task") == "uplift":
        _train_uplift(raw, out_dir, parse_overrides(overrides or []), data_dir)
        return
    if raw.get("task") == "credit":
        _train_credit(raw, out_dir, parse_overrides(overrides or []), data_dir)
        return
    if raw.get("task") == "intent":
        _train_intent(raw, out_dir, parse_overrides(overrides or []), data_dir)
        return
    run_config = RunConfig.from_dict(raw)
    run_config = with_overrides(run_config, parse_overrides(overrides or []))
    if run_config.data.dataset is not None and run_config.data.data_dir is None:
        resolved = data_dir_option(data_dir)
        if resolved is not None:
            run_config = with_overrides(run_config, {"data.data_dir": resolved})
    elif data_dir:
        run_config = with_overrides(run_config, {"data.data_dir": data_dir_option(data_dir)})
    result = train_run(run_config, out_dir, progress=True, resume=resume)
    _plot_history(result.run_dir, run_config.name)
    _print_run_metrics(run_config.model.name, result.metrics)
    out.print(f"run directory: {result.run_dir}")


def _apply_overrides(data: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    for dotted, value in overrides.items():
        node = data
        keys = dotted.split(".")
        for key in keys[:-1]:
            if not isinstance(node.get(key), dict):
                if node.get(key) is not None:
                    raise typer.BadParameter(f"--set {dotted}: {key!r} is not a section")
                node[key] = {}
            node = node[key]
        node[keys[-1]] = value
    return data


def _plot_history(run_dir: Path, title: str) -> None:
    """``learning_curve.png`` next to each ``history.csv``: the run's, and each ensemble member's
    (``members/<i>/history.csv``), when the model trained by epochs."""
    histories = [run_dir / "history.csv", *sorted(run_dir.glob("members/*/history.csv"))]
    histories = [h for h in histories if h.is_file()]
    if histories:
        from deeptarget.viz.curves import plot_learning_curves
    for history in histories:
        member = "" if history.parent == run_dir else f" (member {history.parent.name})"
        plot_learning_curves(history, history.parent / "learning_curve.png", title=title + member)


def _task_raw(raw: dict[str, Any], overrides: dict[str, Any], data_dir: str | None) -> dict[str, Any]:
    """A table task's raw config with ``--set`` overrides and the data directory of a registered dataset."""
    raw = _apply_overrides(raw, overrides)
    data = raw.setdefault("data", {})
    if data.get("dataset") is not None and data.get("data_dir") is None:
        data["data_dir"] = data_dir_option(data_dir)
    return raw


def _train_response(raw: dict[str, Any], out_dir: Path, overrides: dict[str, Any], data_dir: str | None) -> None:
    from deeptarget.marketing.campaigns import ResponseRunConfig, train_response_run

    config = ResponseRunConfig.from_dict(_task_raw(raw, overrides, data_dir))
    metrics = train_response_run(config, out_dir)
    _plot_history(out_dir, config.name)
    plots = _response_plots(out_dir, config.model.name)
    cols = ["auc", "logloss", "pr_auc", "ks", "ece", "lift@10%", "base_rate", "mean_prediction"]
    rows = {f"{config.model.name} (test)": metrics["test"]}
    if "valid" in metrics:
        rows[f"{config.model.name} (valid)"] = metrics["valid"]
    out.print(metrics_table(f"Response model on {metrics['protocol']['source']}", rows, cols))
    if "calibration" in metrics:
        cal = metrics["calibration"]["test"]
        out.print(
            f"{metrics['calibration']['method']} calibration (fitted on valid), test rows: "
            f"log-loss {cal['logloss_before']:.4f} -> {cal['logloss_after']:.4f}, "
            f"ECE {cal['ece_before']:.4f} -> {cal['ece_after']:.4f}"
        )
    out.print(f"fit {metrics['fit_seconds']:.2f}s; rows {metrics['protocol']['rows']}")
    if plots:
        out.print(f"plots: {', '.join(p.name for p in plots)}")
    out.print(f"run directory: {out_dir}")


def _train_uplift(raw: dict[str, Any], out_dir: Path, overrides: dict[str, Any], data_dir: str | None) -> None:
    import pandas as pd

    from deeptarget.marketing.uplift import UpliftRunConfig, train_uplift_run
    from deeptarget.viz.uplift import plot_qini

    config = UpliftRunConfig.from_dict(_task_raw(raw, overrides, data_dir))
    metrics = train_uplift_run(config, out_dir)
    predictions = pd.read_parquet(out_dir / "predictions.parquet")
    control = str(metrics["protocol"]["control"])
    panels = {}
    for arm in metrics["test"]:
        rows = predictions[predictions["arm"].isin([arm, control])]
        treated = (rows["arm"] == arm).to_numpy().astype(int)
        rankings = {"uplift": rows[f"uplift_{arm}"].to_numpy(), "response": rows[f"response_{arm}"].to_numpy()}
        panels[arm] = (rows["label"].to_numpy(), treated, rankings)
    plot_qini(panels, out_dir / "qini.png", title=f"Qini curves, held-out rows ({config.learner}, {config.model.name})")
    table = Table(title=f"Uplift on {metrics['protocol']['source']} (held-out rows)", title_justify="left")
    for col in ("arm vs " + control, "rows", "effect predicted", "effect observed", "Qini uplift", "Qini response"):
        table.add_column(col, justify="right" if col != "arm vs " + control else "left")
    for arm, row in metrics["test"].items():
        table.add_row(
            arm,
            str(row["rows"]),
            f"{row['effect_predicted']:+.2%}",
            f"{row['effect_observed']:+.2%}",
            f"{row['qini_uplift']:.5f}",
            f"{row['qini_response']:.5f}",
        )
    out.print(table)
    out.print(f"fit {metrics['fit_seconds']:.2f}s; rows {metrics['protocol']['rows']}; plot: qini.png")
    out.print(f"run directory: {out_dir}")


def _train_credit(raw: dict[str, Any], out_dir: Path, overrides: dict[str, Any], data_dir: str | None) -> None:
    import pandas as pd

    from deeptarget.marketing.credit import CreditRunConfig, train_credit_run
    from deeptarget.viz.credit import write_validation_report

    config = CreditRunConfig.from_dict(_task_raw(raw, overrides, data_dir))
    metrics = train_credit_run(config, out_dir)
    _plot_history(out_dir, config.name)
    predictions = pd.read_parquet(out_dir / "predictions.parquet")
    test = predictions[predictions["split"] == "test"]
    groups = {name: test[name].reset_index(drop=True) for name in ("sex", "age_band") if name in test.columns}
    report = write_validation_report(
        out_dir,
        name=f"{config.name} ({config.model.name})",
        y_test=test["label"].to_numpy(),
        pd_test=test["pd"].to_numpy(),
        pd_train=predictions.loc[predictions["split"] == "train", "pd"].to_numpy(),
        groups=groups or None,
        approved=test["approved"].to_numpy(),
    )
    cols = ["auc", "gini", "ks", "brier", "logloss", "ece", "psi", "base_rate", "mean_pd"]
    rows = {f"{config.model.name} (test)": metrics["test"]}
    if "valid" in metrics:
        rows[f"{config.model.name} (valid)"] = metrics["valid"]
    out.print(metrics_table(f"Probability of default on {metrics['protocol']['source']}", rows, cols))
    portfolio = metrics["portfolio"]
    out.print(
        f"test portfolio: {portfolio['approved']:.0f} of {portfolio['applicants']:.0f} approved "
        f"({portfolio['approval_rate']:.1%}), mean rate {portfolio['mean_rate_approved']:.2%}, "
        f"expected loss {portfolio['expected_loss']:,.0f}, expected profit {portfolio['expected_profit']:,.0f}; "
        f"realised default rate approved {portfolio['realised_default_rate_approved']:.2%}, "
        f"declined {portfolio['realised_default_rate_declined']:.2%}"
    )
    out.print(f"fit {metrics['fit_seconds']:.2f}s; rows {metrics['protocol']['rows']}; report: {report.name}")
    out.print(f"run directory: {out_dir}")


def _train_intent(raw: dict[str, Any], out_dir: Path, overrides: dict[str, Any], data_dir: str | None) -> None:
    from deeptarget.marketing.assistant import IntentRunConfig, train_intent_run

    config = IntentRunConfig.from_dict(_task_raw(raw, overrides, data_dir))
    metrics = train_intent_run(config, out_dir)
    _plot_history(out_dir, config.name)
    cols = ["accuracy_top1", "accuracy", "in_scope_accuracy", "oos_recall", "oos_precision", "n"]
    rows = {f"{config.model.name} (test)": metrics["test"], f"{config.model.name} (valid)": metrics["valid"]}
    out.print(metrics_table(f"Intents on {metrics['protocol']['source']}", rows, cols))
    out.print(
        f"out-of-scope threshold {metrics['threshold']:.4f} ({metrics['threshold_method']}); "
        f"fit {metrics['fit_seconds']:.1f}s over {metrics['epochs']} epochs; "
        f"{metrics['ms_per_request']:.2f} ms per request"
    )
    out.print(f"run directory: {out_dir}")


@app.command()
@friendly_errors
def assist(
    run_dir: Annotated[Path, typer.Argument(help="An intent run directory (`deeptarget train` with task: intent).")],
    question: Annotated[str, typer.Argument(help="The customer's question.")],
    customer: Annotated[
        str | None, typer.Option("--customer", "-c", help="Customer id, for personalised suggestions.")
    ] = None,
    recommender: Annotated[
        Path | None, typer.Option("--recommender", help="A recommender run to suggest from (default: the config's).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the reply as JSON.")] = False,
) -> None:
    """Answer a customer question: intent, confidence, FAQ answer (or fallback) and personalised suggestions."""
    from deeptarget.marketing.assistant import Assistant

    # one question: PyTorch answers it in milliseconds, an ONNX export first would take seconds (the service,
    # which answers many, uses the run's runtime and exports once when it loads the run)
    assistant = Assistant.load(run_dir, recommender_run=recommender, runtime="torch")
    reply = assistant.answer(question, customer_id=customer)
    if as_json:
        sys.stdout.write(json.dumps(reply.to_dict(), default=_plain) + "\n")
        return
    scope = "" if reply.in_scope else " (out of scope)"
    out.print(f"[bold]intent:[/] {reply.intent}{scope}  confidence {reply.confidence:.3f}", highlight=False)
    out.print(f"[bold]answer[/] ({reply.answer_source}): {reply.answer}", highlight=False)
    for suggestion in reply.suggestions:
        details = ", ".join(f"{k}: {v}" for k, v in suggestion.items() if k not in ("item", "score"))
        out.print(f"  suggestion: item {suggestion['item']} ({details})", highlight=False)


@credit_app.command("score")
@friendly_errors
def credit_score(
    run_dir: Annotated[Path, typer.Argument(help="A credit run directory (`deeptarget train` with task: credit).")],
    data: Annotated[Path, typer.Option("--data", help="Applicant file (CSV, TSV, Parquet, JSONL).")],
    out_file: Annotated[
        Path | None, typer.Option("--out", "-o", help="Decisions file to write (default: <data>.decisions.csv).")
    ] = None,
    reasons: Annotated[int, typer.Option("--reasons", min=0, max=10, help="Reason codes per applicant.")] = 4,
    exposure_column: Annotated[
        str | None, typer.Option("--exposure-column", help="Column holding each loan amount (default: config).")
    ] = None,
) -> None:
    """Score applicants: probability of default, approve / decline, risk-based rate, reason codes."""
    from deeptarget.data.readers import read_table
    from deeptarget.marketing.credit import load_credit_run, score_applicants
    from deeptarget.marketing.pricing import portfolio_summary

    model, config = load_credit_run(run_dir)
    applicants = read_table(data)
    exposure = None
    if exposure_column is not None:
        if exposure_column not in applicants.columns:
            raise typer.BadParameter(f"--exposure-column {exposure_column!r} is not a column of {data.name}")
        exposure = applicants[exposure_column].astype(float).to_numpy()
    result, priced = score_applicants(model, config, applicants, exposure=exposure, reasons=reasons)
    target = out_file or data.with_name(data.name.split(".")[0] + ".decisions.csv")
    result.to_csv(target, index=False)
    summary = portfolio_summary(priced)
    table = Table(title=f"Decisions for {data.name} ({len(result)} applicants)", title_justify="left")
    table.add_column("")
    table.add_column("", justify="right")
    table.add_row("approved", f"{summary['approved']:.0f} ({summary['approval_rate']:.1%})")
    table.add_row("declined: PD above cut-off", f"{(priced['decline_reason'] == 'pd above cut-off').sum()}")
    table.add_row("declined: rate above cap", f"{(priced['decline_reason'] == 'rate above cap').sum()}")
    table.add_row("mean PD of approved", f"{summary['mean_pd_approved']:.2%}")
    table.add_row("mean rate of approved", f"{summary['mean_rate_approved']:.2%}")
    table.add_row("exposure approved", f"{summary['exposure']:,.0f}")
    table.add_row("expected loss", f"{summary['expected_loss']:,.0f}")
    table.add_row("expected profit", f"{summary['expected_profit']:,.0f}")
    out.print(table)
    out.print(f"decisions written to {target} (pd, rate, decision, decline_reason, expected loss and profit, reasons)")


def _response_plots(run_dir: Path, name: str) -> list[Path]:
    """ROC, gains, lift and reliability PNGs of a response run's test predictions (both classes needed)."""
    import numpy as np
    import pandas as pd

    predictions = pd.read_parquet(run_dir / "predictions.parquet")
    test = predictions[predictions["split"] == "test"]
    y = test["label"].to_numpy()
    if len(test) == 0 or y.min() == y.max():
        return []
    from deeptarget.viz.response import plot_calibration, plot_gains, plot_lift, plot_roc

    prob = test["probability"].to_numpy()
    reliability = {name: prob}
    if not np.allclose(prob, test["raw"].to_numpy()):
        reliability = {f"{name} (raw)": test["raw"].to_numpy(), f"{name} (calibrated)": prob}
    return [
        plot_roc(y, {name: prob}, run_dir / "roc.png", title="ROC curve, test rows"),
        plot_gains(y, {name: prob}, run_dir / "gains.png", title="Cumulative gains, test rows"),
        plot_lift(y, {name: prob}, run_dir / "lift.png", title="Lift by decile, test rows"),
        plot_calibration(y, reliability, run_dir / "calibration.png", title="Reliability, test rows"),
    ]


def _print_run_metrics(name: str, metrics: dict[str, Any]) -> None:
    ks = metrics.get("protocol", {}).get("ks", [10])
    k = 10 if 10 in ks else ks[0]
    cols = [f"{m}@{k}" for m in ("precision", "recall", "ndcg", "map", "mrr", "hit")]
    rows = {f"{name} (test)": metrics["test"]}
    if "valid" in metrics:
        rows[f"{name} (valid)"] = metrics["valid"]
    out.print(metrics_table("Full-catalogue ranking, seen items excluded", rows, cols))
    if "fit_seconds" in metrics:
        out.print(f"fit {metrics['fit_seconds']:.2f}s, evaluation {metrics['eval_seconds']:.2f}s")


@app.command()
@friendly_errors
def evaluate(
    run_dir: Annotated[Path, typer.Argument(help="A run directory written by `deeptarget train`.")],
    data_dir: DataDirOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the metrics as JSON.")] = False,
) -> None:
    """Re-create a run's split, load its saved model and evaluate it (valid and test)."""
    from deeptarget.persistence import write_json
    from deeptarget.runs import evaluate_run, load_run_config, with_overrides, write_config

    if data_dir:
        config = with_overrides(load_run_config(run_dir), {"data.data_dir": data_dir_option(data_dir)})
        write_config(config, run_dir / "config.yaml")
    metrics = evaluate_run(run_dir, progress=not as_json)
    write_json(run_dir / "evaluation.json", metrics)
    if as_json:
        out.print_json(json.dumps(metrics))
    else:
        _print_run_metrics(metrics.get("model", "model"), metrics)


@app.command()
@friendly_errors
def recommend(
    run_dir: Annotated[Path, typer.Argument(help="A run directory written by `deeptarget train`.")],
    user: Annotated[str | None, typer.Option("--user", "-u", help="Raw user id.")] = None,
    k: Annotated[int, typer.Option("-k", min=1, max=10_000, help="Number of items.")] = 10,
    include_seen: Annotated[bool, typer.Option("--include-seen", help="Allow already seen items.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
    all_users: Annotated[bool, typer.Option("--all", help="Every training user, written to --out.")] = False,
    out_file: Annotated[
        Path | None, typer.Option("--out", "-o", help="Parquet file for --all (user, rank, item, score).")
    ] = None,
    batch_size: Annotated[int, typer.Option("--batch-size", min=1, help="Users per batch with --all.")] = 4096,
) -> None:
    """Top-K recommendations for one user (--user), or for every user into a Parquet file (--all --out).

    --all streams users in batches, so memory stays bounded by one batch whatever the number of users.
    """
    from deeptarget.loading import load_model

    if all_users == (user is not None):
        raise typer.BadParameter("give either --user ID or --all --out FILE")
    model = load_model(run_dir / "model")
    if all_users:
        from deeptarget.marketing.recommendations import export_recommendations

        if out_file is None:
            raise typer.BadParameter("--all needs --out FILE.parquet")
        rows = export_recommendations(
            model, out_file, k=k, exclude_seen=not include_seen, batch_size=batch_size, progress=not as_json
        )
        out.print(f"{rows} recommendations for {model.n_users} users written to {out_file}")
        return
    items, scores = model.recommend([user], k=k, exclude_seen=not include_seen)
    recs = [
        {"rank": r + 1, "item": _plain(item), "score": float(score)}
        for r, (item, score) in enumerate(zip(items[0], scores[0], strict=True))
        if score > float("-inf")
    ]
    if as_json:
        sys.stdout.write(json.dumps({"user": user, "k": k, "items": recs}) + "\n")
        return
    table = Table(title=f"Top {k} for user {user}", title_justify="left")
    for col in ("rank", "item", "score"):
        table.add_column(col, justify="right" if col != "item" else "left")
    for rec in recs:
        table.add_row(str(rec["rank"]), str(rec["item"]), f"{rec['score']:.4f}")
    out.print(table)


@app.command()
@friendly_errors
def audience(
    run_dir: Annotated[Path, typer.Argument(help="A response or uplift run directory (`deeptarget train`).")],
    data: Annotated[Path, typer.Option("--data", help="Customer file to score (CSV, TSV, Parquet, JSONL).")],
    cost_per_contact: Annotated[float, typer.Option("--cost-per-contact", min=0.0, help="Cost of one contact.")],
    value_per_response: Annotated[float, typer.Option("--value-per-response", min=0.0, help="Value of a response.")],
    budget: Annotated[float | None, typer.Option("--budget", min=0.0, help="Most to spend on contacts.")] = None,
    max_contacts: Annotated[int | None, typer.Option("--max-contacts", min=0, help="Most customers.")] = None,
    out_file: Annotated[
        Path | None, typer.Option("--out", "-o", help="Audience file to write (default: <data>.audience.csv).")
    ] = None,
    arm: Annotated[
        str | None, typer.Option("--arm", help="Uplift runs: target this treated arm (default: each customer's best).")
    ] = None,
) -> None:
    """Score a customer file and choose the audience with the largest expected profit within the budget.

    With a response run, a customer's score is the probability of responding if contacted. With an uplift run
    (``task: uplift``), it is the *extra* probability the contact causes -- for the best arm of each customer, or
    for ``--arm`` -- so customers who would respond anyway, or who react badly, are left alone.
    """
    import numpy as np
    import pandas as pd

    from deeptarget.data.readers import read_table
    from deeptarget.marketing.audience import select_audience
    from deeptarget.marketing.campaigns import load_response_model
    from deeptarget.marketing.uplift import is_uplift_run, load_uplift_run

    customers = read_table(data)
    uplift = is_uplift_run(run_dir)
    if uplift:
        learner = load_uplift_run(run_dir)
        effects = learner.predict_effect(customers)
        if arm is None:
            best = learner.best_arm(customers)
            chosen_arm, scores = best["arm"].to_numpy(), best["uplift"].to_numpy(dtype=float)
        else:
            names = {str(a): a for a in learner.arms_}
            if arm not in names:
                raise typer.BadParameter(f"--arm {arm!r}: the run's treated arms are {sorted(names)}")
            chosen_arm, scores = np.full(len(customers), arm, dtype=object), effects[names[arm]].to_numpy(dtype=float)
    else:
        if arm is not None:
            raise typer.BadParameter("--arm needs an uplift run (task: uplift)")
        scores = load_response_model(run_dir).predict_proba(customers)
    plan = select_audience(
        scores,
        cost_per_contact=cost_per_contact,
        value_per_response=value_per_response,
        budget=budget,
        max_contacts=max_contacts,
    )
    target = out_file or data.with_name(data.name.split(".")[0] + ".audience.csv")
    if uplift:
        chosen = customers.assign(arm=chosen_arm, uplift=scores, expected_incremental_response=scores)
    else:
        chosen = customers.assign(score=scores, expected_response=scores)
    chosen = chosen.iloc[plan.ranking[: plan.n_contacted]]
    chosen.to_csv(target, index=False)
    summary = plan.summary()
    extra = "incremental " if uplift else ""
    table = Table(title=f"Audience from {data.name} ({summary['n_customers']} customers scored)", title_justify="left")
    table.add_column("")
    table.add_column("", justify="right")
    table.add_row("customers to contact", f"{summary['n_contacted']}")
    if uplift:
        counts = pd.Series(chosen["arm"]).value_counts()
        table.add_row("arms", ", ".join(f"{name}: {count}" for name, count in counts.items()) or "-")
    table.add_row("cost", f"{summary['cost']:,.2f}")
    table.add_row(f"expected {extra}responses", f"{summary['expected_responses']:,.1f}")
    table.add_row(f"expected {extra}value", f"{summary['expected_value']:,.2f}")
    table.add_row(f"expected {extra}profit", f"{summary['expected_profit']:,.2f}")
    table.add_row(
        f"expected {extra}response rate",
        f"{summary['response_rate']:.2%} (random targeting: {summary['base_rate']:.2%})",
    )
    table.add_row("expected lift over random targeting", f"{summary['expected_lift']:.2f}x")
    table.add_row("stopped by", str(summary["limited_by"]))
    out.print(table)
    what = "arm, uplift and expected_incremental_response" if uplift else "score and expected_response"
    out.print(f"audience written to {target} (customers in score order, with {what})")


@registry_app.command("add")
@friendly_errors
def registry_add(
    name: Annotated[str, typer.Argument(help="Model name in the registry (and in the REST API).")],
    run_dir: Annotated[Path, typer.Argument(help="A run directory written by `deeptarget train`.")],
    registry: RegistryOpt,
    version: Annotated[str | None, typer.Option("--version", help="Version label (default: next number).")] = None,
    item_categories: Annotated[
        Path | None, typer.Option("--item-categories", help="Table with columns item, category (for filters).")
    ] = None,
    promote: Annotated[bool, typer.Option("--promote", help="Also make it the serving version.")] = False,
) -> None:
    """Copy a run directory into the registry as a new version (checksummed; serving only once promoted)."""
    from deeptarget.service.registry import ModelRegistry

    reg = ModelRegistry(registry)
    added = reg.add(name, run_dir, version=version, items_file=item_categories)
    out.print(f"added {name} version {added.version} ({added.kind}) at {added.path}")
    if promote:
        reg.promote(name, added.version)
        out.print(f"promoted {name} to version {added.version}")


@registry_app.command("promote")
@friendly_errors
def registry_promote(
    name: Annotated[str, typer.Argument(help="Model name.")],
    version: Annotated[str, typer.Argument(help="Version to serve.")],
    registry: RegistryOpt,
) -> None:
    """Make a version the serving one (its files are verified first); a running service switches to it."""
    from deeptarget.service.registry import ModelRegistry

    ModelRegistry(registry).promote(name, version)
    out.print(f"promoted {name} to version {version}")


@registry_app.command("rollback")
@friendly_errors
def registry_rollback(
    name: Annotated[str, typer.Argument(help="Model name.")],
    registry: RegistryOpt,
) -> None:
    """Serve the previously promoted version again."""
    from deeptarget.service.registry import ModelRegistry

    back = ModelRegistry(registry).rollback(name)
    out.print(f"rolled {name} back to version {back.version}")


@registry_app.command("list")
@friendly_errors
def registry_list(registry: RegistryOpt) -> None:
    """Every registered model, its versions and the serving one."""
    from deeptarget.service.registry import ModelRegistry

    reg = ModelRegistry(registry)
    table = Table(title=f"Models in {registry}", title_justify="left")
    for col in ("name", "kind", "serving", "versions"):
        table.add_column(col)
    for name in reg.names():
        current = reg.current(name)
        versions = reg.versions(name)
        kind = reg.version(name, versions[-1]).kind if versions else "-"
        table.add_row(name, kind, current.version if current else "-", ", ".join(versions))
    out.print(table)


@app.command()
@friendly_errors
def serve(
    registry: RegistryOpt,
    host: Annotated[str, typer.Option("--host", help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", min=1, max=65535, help="TCP port.")] = 8000,
    events_url: Annotated[
        str | None,
        typer.Option(
            "--events-url",
            help=f"sqlite:///path or postgresql://... (default: ${EVENTS_ENV}, else sqlite:///REGISTRY/events.db).",
            show_default=False,
        ),
    ] = None,
    poll_seconds: Annotated[
        float, typer.Option("--poll-seconds", min=0.0, help="Check the registry for promotions this often (0: never).")
    ] = 2.0,
    index: Annotated[
        str,
        typer.Option(
            "--index", help="faiss index for item vectors: auto (exact up to 200k items, else ivf), exact, ivf, hnsw."
        ),
    ] = "auto",
    max_body_bytes: Annotated[int, typer.Option("--max-body-bytes", min=1, help="Larger bodies get 413.")] = 1_000_000,
    hnsw_m: Annotated[int, typer.Option("--hnsw-m", min=2, help="HNSW graph degree.")] = 16,
    ef_construction: Annotated[int, typer.Option("--ef-construction", min=1, help="HNSW build beam width.")] = 40,
    ef_search: Annotated[int, typer.Option("--ef-search", min=1, help="HNSW query beam width (recall vs speed).")] = 64,
    nprobe: Annotated[
        int, typer.Option("--nprobe", min=1, help="IVF cells searched per query (recall vs speed).")
    ] = 16,
) -> None:
    """Serve the registry's promoted models over HTTP (FastAPI on uvicorn; OpenAPI docs at /docs).

    Admin endpoints and POST /events need the key in $DEEPTARGET_API_KEY, sent as the X-API-Key header.
    """
    import uvicorn

    from deeptarget.service.app import ServiceSettings, create_app

    if index not in ("auto", "exact", "ivf", "hnsw"):
        raise typer.BadParameter(f"--index must be auto, exact, ivf or hnsw, got {index!r}")
    settings = ServiceSettings(
        registry=registry,
        events_url=events_url or os.environ.get(EVENTS_ENV) or None,
        api_key=os.environ.get(API_KEY_ENV) or None,
        poll_seconds=poll_seconds,
        index_kind=index,  # type: ignore[arg-type]  # checked just above
        max_body_bytes=max_body_bytes,
        hnsw_m=hnsw_m,
        ef_construction=ef_construction,
        ef_search=ef_search,
        nprobe=nprobe,
    )
    if settings.api_key is None:
        logger.warning("no $%s: admin endpoints and POST /events answer 403", API_KEY_ENV)
    uvicorn.run(create_app(settings), host=host, port=port, log_config=None, access_log=False)


def _plain(value: Any) -> Any:
    return value.item() if hasattr(value, "item") else value


@app.command()
@friendly_errors
def datasets(data_dir: DataDirOpt = None) -> None:
    """List the dataset loaders and whether their files were found."""
    from deeptarget.data.datasets.paths import resolve_data_dir
    from deeptarget.data.loading import registered_datasets

    root = resolve_data_dir(data_dir_option(data_dir))
    table = Table(title=f"Datasets under {root}", title_justify="left")
    table.add_column("name", no_wrap=True, min_width=22)
    table.add_column("found", no_wrap=True)
    for col in ("folder", "licence", "missing / how to get it"):
        table.add_column(col)
    for name, dataset in registered_datasets().items():
        missing = dataset.missing_files(root)
        found = "yes" if not missing else "no"
        hint = ""
        if missing:
            hint = "missing: " + ", ".join(missing[:3])
            if dataset.remote_files:
                hint += " (downloadable)"
        table.add_row(name, found, str(dataset.path(root)) if dataset.folder else "(built in)", dataset.licence, hint)
    out.print(table)


@app.command()
@friendly_errors
def demo(
    out_dir: Annotated[Path, typer.Option("--out", "-o", help="Where to write the demo runs.")] = Path("runs/demo"),
    n_users: Annotated[int, typer.Option("--users", min=10, help="Synthetic customers.")] = 2000,
    n_items: Annotated[int, typer.Option("--items", min=10, help="Synthetic products.")] = 800,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the synthetic retailer and the split.")] = 0,
    k: Annotated[int, typer.Option("-k", min=1, help="Recommendations per customer in the export.")] = 10,
) -> None:
    """Train the baselines on a synthetic retailer, compare them, export top-K recommendations for everyone."""
    from deeptarget.cli.demo import run_demo

    root = logging.getLogger("deeptarget")
    if root.level == logging.INFO:  # the demo prints its own summary; keep the step-by-step log for -v
        root.setLevel(logging.WARNING)
    run_demo(out_dir, n_users=n_users, n_items=n_items, seed=seed, k=k, console=out)


def main() -> None:
    """Console-script entry point."""
    app()


if __name__ == "__main__":
    main()
