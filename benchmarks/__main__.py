"""`make bench`: what a cold start costs, how the store performs on the local stack, what an order costs
in AWS, and how big the Lambda bundle is. Prints JSON, and rewrites docs/benchmarks.md with the figures
and their plots.

Timings on a shared machine are noisy, so each timing is reported next to a yardstick measured in the same
run (a ratio), and nothing here passes or fails: it prints, for a person to compare over time.
"""
from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

HEAVY = ("stripe", "boto3", "botocore", "pynamodb", "pydantic", "aws_lambda_powertools", "requests")


def cold_import() -> dict:
    """A fresh interpreter importing the Lambda handler module, against one importing only boto3."""
    probe = ("import json, sys, time; t = time.perf_counter(); import {m}; "
             "print(json.dumps({{'ms': (time.perf_counter() - t) * 1000, 'mods': sorted(sys.modules)}}))")

    def run(module: str) -> tuple[float, set[str]]:
        samples, mods = [], set()
        for _ in range(5):
            out = json.loads(subprocess.run([sys.executable, "-c", probe.format(m=module)], capture_output=True,
                                            text=True, check=True).stdout)
            samples.append(out["ms"])
            mods = set(out["mods"])
        return statistics.median(samples), mods

    app_ms, loaded = run("app")
    boto3_ms, _ = run("boto3")
    return {"import app (ms, median of 5)": round(app_ms, 1), "import boto3 alone (ms)": round(boto3_ms, 1),
            "import app / import boto3": round(app_ms / boto3_ms, 2),
            "heavy modules loaded at import": [m for m in HEAVY if m in loaded]}


def _bundle_import_ms(function: Path, layer: Path | None, runs: int = 5) -> float:
    """Median CPU ms of `import app` from the unpacked zips (the function's at /var/task, the layer's at /opt,
    as Lambda lays them out), in a fresh interpreter that may not write bytecode (both are read-only in
    Lambda) and sees nothing else but the standard library."""
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    probe = ("import json, sys, time; sys.path[:0] = sys.argv[1:]; t = time.process_time(); import app; "
             "print(json.dumps((time.process_time() - t) * 1000))")
    with tempfile.TemporaryDirectory() as root:
        task, opt = Path(root, "task"), Path(root, "opt")
        with zipfile.ZipFile(function) as archive:
            archive.extractall(task)
        if layer is not None:
            with zipfile.ZipFile(layer) as archive:
                archive.extractall(opt)
        paths = [str(task), str(opt / "python"), str(opt / "python" / "lib" / version / "site-packages")]
        env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
        samples = [json.loads(subprocess.run([sys.executable, "-S", "-c", probe, *paths], capture_output=True,
                                             text=True, check=True, env=env, cwd=task).stdout)
                   for _ in range(runs)]
    return statistics.median(samples)


def bundle() -> dict:
    """The zips `chalice package` builds for the dev stage: the function's (the app's own code) and the
    shared layer's (its dependencies, `automatic_layer`), built again only when requirements.txt changes;
    then both with their bytecode compiled in (tools/bytecode.py, as `make package` and `make deploy` ship
    them), and what that does to `import app` from the unpacked zips."""
    from tools.bytecode import compile_zip

    def measure(path: Path) -> dict:
        with zipfile.ZipFile(path) as archive:
            infos = archive.infolist()
        return {"zipped (MB)": round(path.stat().st_size / 1e6, 2),
                "unzipped (MB)": round(sum(i.file_size for i in infos) / 1e6, 1),
                ".py files": sum(1 for i in infos if i.filename.endswith(".py")),
                ".pyc files": sum(1 for i in infos if i.filename.endswith(".pyc"))}

    with tempfile.TemporaryDirectory() as out:
        env = {**os.environ, "AWS_DEFAULT_REGION": os.environ.get("AWS_DEFAULT_REGION", "us-east-1")}
        subprocess.run([str(Path(sys.executable).with_name("chalice")), "package", "--stage", "dev", out],
                       check=True, capture_output=True, env=env)
        function, layer = Path(out, "deployment.zip"), Path(out, "layer-deployment.zip")
        layer = layer if layer.exists() else None
        sources_only = _bundle_import_ms(function, layer)
        compile_zip(function)
        if layer is not None:
            compile_zip(layer, root="/opt")
        compiled = _bundle_import_ms(function, layer)
        figures = {"function": measure(function)}
        if layer is not None:
            figures["layer"] = measure(layer)
        figures.update({"import app from the zips, sources only (CPU ms)": round(sources_only, 1),
                        "import app from the zips, with .pyc (CPU ms)": round(compiled, 1),
                        "sources only / with .pyc": round(sources_only / compiled, 2)})
        return figures


def stack_figures() -> dict:
    from local import LocalStack

    from . import coldstart, load

    stack = LocalStack(port=0, stage="bench", banner=False,
                       env={"SHELF_SEED_DEMO": "0", "SHELF_ADMIN_API_KEY": "sk_bench_" + "b" * 24,
                            "SHELF_LOCAL_SCHEDULE_SECONDS": "0", "POWERTOOLS_LOG_LEVEL": "WARNING"}).start()
    try:
        return {"first request": coldstart.first_checkout(stack), "load": load.shoppers(stack),
                "sustained": load.sustained(stack)}
    finally:
        stack.stop()


def main() -> int:
    from . import cost, report

    results = {"cold start": cold_import()}
    results.update(stack_figures())
    results["bundle"] = bundle()
    results["cost"] = cost.report(n=10)
    print(json.dumps(results, indent=2))
    for label, figures in results["cost"].items():
        print(f"{label}: cost per 1M orders: ${figures['cost per 1M orders ($)']:.2f}")
    first = results["first request"]
    print(f"first checkout / import app (CPU): {first['first checkout / import app']}")
    print(f"import app from the zips, sources only / with .pyc (CPU): {results['bundle']['sources only / with .pyc']}")
    print(f"import app / import boto3: {results['cold start']['import app / import boto3']}")
    for shoppers, figures in results["load"].items():
        latency = ", ".join(f"{name} {p['p50']}/{p['p95']}/{p['p99']}" for name, p in figures["latency (ms)"].items())
        print(f"{shoppers}: {figures['orders per second']} orders/s; checkout/health p50 "
              f"{figures['checkout p50 / health p50']}; p50/p95/p99 ms: {latency}")
    held = results["sustained"]
    print(f"sustained {held['shoppers']} shoppers for {held['seconds']} s: threads {held['threads first / last / max']}"
          f" (first/last/max), RSS MB {held['RSS MB first / last / max']}, orders/s by half "
          f"{held['orders/s first half / second half']}, RSS growth per order {held['RSS growth per order (KB)']} KB "
          f"(store's items {held['store items per order (KB)']} KB)")
    written = report.write(results)
    if written:
        print(f"wrote {written}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
