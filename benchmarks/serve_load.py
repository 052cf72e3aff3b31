"""Load test of ``POST /recommend``: requests per second and p50/p95/p99 latency at rising concurrency.

    .venv/bin/python benchmarks/serve_load.py --data-dir ../shared/data --out benchmarks/results/serve_load.json

Two catalogues behind one ``deeptarget serve`` process (one uvicorn worker, loopback only):

- ``movielens-100k``: EASE trained on every ML-100K rating (943 users x 1,682 items), full scoring per request;
- ``synthetic-1m``: a 1,000,000-item catalogue of synthetic item vectors (clustered, 32 dimensions) served as a
  matrix-factorisation model through a faiss index (``--index ivf``, the default for large catalogues, or
  ``hnsw``); its recall@10 against exact search is measured through the API on a sample of 200 users.

About 10% of the requested user ids are unknown to the model (they get the popularity fallback). The load
generator is ``wrk`` (Debian package ``wrk``) in its own process, one thread; each level runs ``--seconds``
seconds, so the whole script stays bounded: about 3 minutes on 2 cores with IVF; ``--index hnsw`` adds about 4
minutes of graph building for 1M items.
Goal (issue 7): at least 500 requests/s with p99 under 50 ms for top-10 of 1M items on one worker, zero errors.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import httpx
import numpy as np
import pandas as pd
import torch

from common import REPO, BenchRecord, machine, markdown_table, parser, write_results
from deeptarget.data.encoders import IdEncoder
from deeptarget.data.interactions import Interactions
from deeptarget.models.recommend import EASE, EASEConfig
from deeptarget.models.recommend.mf import MFConfig
from deeptarget.persistence import write_model_dir
from deeptarget.service.registry import ModelRegistry

SYNTH_ITEMS = 1_000_000
SYNTH_USERS = 20_000
SYNTH_DIM = 32
CONCURRENCY = (1, 8, 32, 64)
METRICS = ["rps", "p50_ms", "p95_ms", "p99_ms", "errors", "requests", "recall@10"]

LUA = """
math.randomseed({seed})
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
request = function()
  local user = math.random({lo}, {hi})
  return wrk.format(nil, "/recommend", nil, string.format('{{"model":"{model}","user":%d,"k":10}}', user))
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'RESULT {{"requests":%d,"duration_us":%d,"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d,' ..
    '"p50":%d,"p95":%d,"p99":%d,"max":%d}}\\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(95), latency:percentile(99), latency.max))
end
"""


def ml100k_run(data_dir: Path, out: Path) -> tuple[Path, int, int]:
    """EASE on every ML-100K rating; returns the run dir and the raw user id range."""
    frame = pd.read_csv(data_dir / "movielens-100k" / "u.data", sep="\t", names=["user", "item", "rating", "time"])
    train = Interactions.from_frame(frame[["user", "item"]])
    EASE(EASEConfig(l2=250.0)).fit(train).save(out / "model")
    return out, int(frame["user"].min()), int(frame["user"].max())


def synthetic_run(out: Path, seed: int = 0) -> tuple[Path, np.ndarray, np.ndarray]:
    """A matrix-factorisation model directory over 1M clustered synthetic item vectors (no training)."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(256, SYNTH_DIM)).astype(np.float32)
    items = centres[rng.integers(0, 256, SYNTH_ITEMS)] + 0.6 * rng.normal(size=(SYNTH_ITEMS, SYNTH_DIM)).astype(
        np.float32
    )
    users = centres[rng.integers(0, 256, SYNTH_USERS)] + 0.6 * rng.normal(size=(SYNTH_USERS, SYNTH_DIM)).astype(
        np.float32
    )
    config = MFConfig(embedding_dim=SYNTH_DIM, item_bias=False)
    write_model_dir(
        out / "model",
        model_type="mf",
        config=config.to_dict(),
        arrays={
            "seen.indptr": np.zeros(SYNTH_USERS + 1, dtype=np.int64),
            "seen.indices": np.zeros(0, dtype=np.int64),
            "net.user_embedding.weight": users,
            "net.item_embedding.weight": items,
        },
        encoders={
            "user": IdEncoder(np.arange(SYNTH_USERS)).to_json(),
            "item": IdEncoder(np.arange(SYNTH_ITEMS)).to_json(),
        },
        meta={"library": "deeptarget", "note": "synthetic item vectors for the serving benchmark", "fit_seconds": 0},
    )
    return out, users, items


def start_server(registry: Path, port: int, log: Path, index: list[str]) -> subprocess.Popen[bytes]:
    command = [sys.executable, "-m", "deeptarget.cli.main", "-q", "serve", "--registry", str(registry)]
    command += ["--port", str(port), "--poll-seconds", "0", *index]
    env = {**os.environ, "DEEPTARGET_EVENTS_URL": f"sqlite:///{registry / 'events.db'}"}
    return subprocess.Popen(command, stdout=log.open("wb"), stderr=subprocess.STDOUT, env=env)


def wait_ready(url: str, process: subprocess.Popen[bytes], timeout: float) -> float:
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}")
        try:
            if httpx.get(url + "/health", timeout=1.0).json().get("models") == 2:
                return time.monotonic() - start
        except (httpx.TransportError, ValueError):
            pass
        time.sleep(0.5)
    raise TimeoutError(f"server not ready after {timeout}s")


def run_wrk(url: str, model: str, lo: int, hi: int, connections: int, seconds: int, lua: Path) -> dict[str, float]:
    lua.write_text(LUA.format(seed=connections, lo=lo, hi=hi, model=model), encoding="utf-8")
    command = ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--timeout", "5s", "-s", str(lua), url]
    result = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 30, check=True)
    line = next(row for row in result.stdout.splitlines() if row.startswith("RESULT "))
    raw = json.loads(line.removeprefix("RESULT "))
    errors = raw["connect"] + raw["read"] + raw["write"] + raw["status"] + raw["timeout"]
    if errors:
        kinds = {kind: raw[kind] for kind in ("connect", "read", "write", "status", "timeout") if raw[kind]}
        print(f"  errors at {connections} connections: {kinds} (status: HTTP >= 400; timeout: > 5 s)", flush=True)
    return {
        "rps": raw["requests"] / (raw["duration_us"] / 1e6),
        "p50_ms": raw["p50"] / 1000,
        "p95_ms": raw["p95"] / 1000,
        "p99_ms": raw["p99"] / 1000,
        "max_ms": raw["max"] / 1000,
        "errors": float(errors),
        "requests": float(raw["requests"]),
    }


def api_recall(url: str, users: np.ndarray, items: np.ndarray, n: int = 200, k: int = 10) -> float:
    """Recall@k of the served (HNSW) answers against exact inner-product top-k, over ``n`` sampled users."""
    sample = np.random.default_rng(1).choice(len(users), size=n, replace=False)
    hits = 0
    with httpx.Client(base_url=url, timeout=10.0) as client:
        for start in range(0, n, 50):
            rows = sample[start : start + 50]
            scores = torch.from_numpy(users[rows]) @ torch.from_numpy(items).T
            exact = torch.topk(scores, k, dim=1).indices.numpy()
            for user, truth in zip(rows, exact, strict=True):
                body = client.post("/recommend", json={"model": "synthetic-1m", "user": int(user), "k": k}).json()
                hits += len({r["item"] for r in body["items"]} & set(truth.tolist()))
    return hits / (n * k)


def main() -> None:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--seconds", type=int, default=8, help="duration of each concurrency level")
    p.add_argument("--port", type=int, default=8765)
    p.add_argument("--index", choices=["ivf", "hnsw"], default="ivf", help="faiss index of the 1M catalogue")
    p.add_argument("--nprobe", type=int, default=16, help="IVF cells searched per query")
    p.add_argument("--ef-search", type=int, default=64, help="HNSW query beam width")
    p.add_argument("--levels", default=",".join(map(str, CONCURRENCY)), help="concurrency levels, comma-separated")
    args = p.parse_args()
    levels = [int(c) for c in args.levels.split(",")]
    index = ["--index", args.index, "--nprobe", str(args.nprobe), "--ef-search", str(args.ef_search)]
    knob = f"nprobe {args.nprobe}" if args.index == "ivf" else f"ef_search {args.ef_search}, M 16, ef_construction 40"
    if shutil.which("wrk") is None:
        sys.exit("wrk not found: apt-get install wrk")
    torch.set_num_threads(1)
    started = time.monotonic()
    work = Path(tempfile.mkdtemp(prefix="deeptarget-serve-bench-"))
    url = f"http://127.0.0.1:{args.port}"
    records: list[BenchRecord] = []
    try:
        registry = ModelRegistry(work / "registry")
        ml_run, lo, hi = ml100k_run(Path(args.data_dir), work / "ml100k")
        registry.promote("ml100k-ease", registry.add("ml100k-ease", ml_run).version)
        synth_run, users, items = synthetic_run(work / "synthetic")
        registry.promote("synthetic-1m", registry.add("synthetic-1m", synth_run).version)
        print(f"registry ready after {time.monotonic() - started:.0f}s; starting the server", flush=True)
        log = work / "server.log"
        server = start_server(work / "registry", args.port, log, index)
        try:
            ready = wait_ready(url, server, timeout=400)
            models = {m["name"]: m for m in httpx.get(url + "/models").json()}
            print(f"server ready in {ready:.0f}s: {json.dumps(models)}", flush=True)
            recall = api_recall(url, users, items)
            print(f"synthetic-1m {args.index} ({knob}) recall@10 vs exact, 200 users through the API: {recall:.4f}")
            plans = [
                ("movielens-100k", "ml100k-ease", lo, hi + (hi - lo) // 9, "ease, full scoring"),
                ("synthetic-1m", "synthetic-1m", 0, SYNTH_USERS * 10 // 9, f"mf vectors, faiss {args.index} ({knob})"),
            ]
            for dataset, model, user_lo, user_hi, what in plans:
                run_wrk(url, model, user_lo, user_hi, 4, 2, work / "load.lua")  # warm-up
                for connections in levels:
                    m = run_wrk(url, model, user_lo, user_hi, connections, args.seconds, work / "load.lua")
                    notes = f"{what}; {connections} connections; ~10% unknown users"
                    extra: dict[str, object] = {"concurrency": connections, "max_ms": round(m.pop("max_ms"), 3)}
                    if dataset == "synthetic-1m":
                        m["recall@10"] = recall
                        extra["index"] = models[model].get("retrieval")
                        extra["index_params"] = knob
                        extra["server_ready_seconds"] = round(ready, 1)
                    records.append(
                        BenchRecord(
                            benchmark="serve_load",
                            dataset=dataset,
                            protocol=f"POST /recommend k=10, wrk 1 thread, {args.seconds}s per level, loopback",
                            system="deeptarget",
                            model=model,
                            metrics={key: round(value, 3) for key, value in m.items()},
                            notes=notes,
                            extra=extra,
                        )
                    )
                    print(
                        f"{dataset} c={connections}: {m['rps']:.0f} req/s, p50 {m['p50_ms']:.2f} ms, "
                        f"p95 {m['p95_ms']:.2f} ms, p99 {m['p99_ms']:.2f} ms, errors {m['errors']:.0f}",
                        flush=True,
                    )
        finally:
            server.terminate()
            server.wait(timeout=30)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print()
    print(markdown_table(records, METRICS))
    big = [r for r in records if r.dataset == "synthetic-1m"]
    met = [r for r in big if r.metrics["rps"] >= 500 and r.metrics["p99_ms"] < 50 and r.metrics["errors"] == 0]
    verdict = (
        f"met at {', '.join(str(r.extra['concurrency']) for r in met)} connection(s)" if met else "NOT met at any level"
    )
    errors = {f"{r.dataset} c={r.extra['concurrency']}": r.metrics["errors"] for r in records if r.metrics["errors"]}
    print(f"\ngoal (1M items, top-10, one worker: >= 500 req/s, p99 < 50 ms, zero errors): {verdict}")
    print(f"errors: {errors or 'none'}")
    print(f"machine: {machine()}; total {time.monotonic() - started:.0f}s")
    for record in records:
        record.extra["goal"] = verdict
        record.extra["machine"] = machine()
    write_results(records, args.out or str(REPO / "benchmarks" / "results" / "serve_load.json"))


if __name__ == "__main__":
    main()
