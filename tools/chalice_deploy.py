"""`chalice deploy --stage <stage>`, with compiled bytecode in every zip it uploads.

Chalice builds the zips it uploads itself, into `.chalice/deployments/` (the app code's, and the shared
layer's with the dependencies, `automatic_layer`), from sources only. Lambda unpacks them read-only, so
every cold start would compile each module it imports. This runs what Chalice's own `deploy` command runs
(its CLIFactory, config, session, default deployer and report), with one step after Chalice's build stage:
each zip the build made is copied beside it with `tools.bytecode`'s unchecked-hash `.pyc` added (`make
package` adds the same), and the deployment package points at the copy, which is what the planner uploads.
Chalice's own cached zips are left as Chalice made them; the compiled copies are cached beside them, named
by a hash of what they are made from, so an unchanged layer is not compiled again.

    python -m tools.chalice_deploy --stage dev            # step 3 of `make deploy` (tools/deploy.py)

Chalice has no public hook for a build step: the one thing used that Chalice does not document is the
deployer's `_build_stage` attribute, which this extends (checked here, and pinned by
tests/integration/test_deploy.py, which fails if the uploaded zips lose their bytecode).
"""
from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import sys
from pathlib import Path
from typing import Any

import chalice
from chalice.cli.factory import CLIFactory
from chalice.deploy import deployer as chalice_deployer
from chalice.deploy import models
from chalice.utils import UI

from tools import bytecode

LAYER_ROOT = "/opt"  # where Lambda unpacks a layer; its modules are under /opt/python/lib/pythonX.Y/site-packages


def compiled_name(source: Path) -> Path:
    """The compiled copy of one of Chalice's zips, named by the bytes it is made of: the zip's, and the
    compiler's own source, for the interpreter's bytecode tag."""
    digest = hashlib.sha256(source.read_bytes())
    digest.update(Path(bytecode.__file__).read_bytes())
    return source.with_name(f"{source.stem}-{sys.implementation.cache_tag}-{digest.hexdigest()[:16]}.zip")


def compile_package(source: Path, root: str, runtime: str) -> Path:
    """The compiled copy of `source` (made unless it is already there). `root` is where Lambda unpacks it."""
    target = compiled_name(source)
    if not target.exists():
        partial = target.with_name(target.stem + ".partial.zip")
        shutil.copyfile(source, partial)
        bytecode.compile_zip(partial, root=root, runtime=runtime)
        os.replace(partial, target)
    return target


class CompileBytecode(chalice_deployer.BaseDeployStep):
    """Points each function's and layer's deployment package at the compiled copy of the zip Chalice built."""

    def __init__(self) -> None:
        self._compiled: dict[str, str] = {}

    def handle_lambdafunction(self, config, resource: models.LambdaFunction) -> None:
        self._compile(config, resource.deployment_package, bytecode.LAMBDA_TASK_ROOT)

    def handle_lambdalayer(self, config, resource: models.LambdaLayer) -> None:
        self._compile(config, resource.deployment_package, LAYER_ROOT)

    def _compile(self, config, package: models.DeploymentPackage, root: str) -> None:
        source = package.filename
        if not isinstance(source, str):  # not built: an empty layer, which Chalice leaves out
            return
        if source in self._compiled.values():  # a package the functions share, already pointed at its copy
            return
        if source not in self._compiled:
            self._compiled[source] = str(compile_package(Path(source), root, config.lambda_python_version))
        package.filename = self._compiled[source]


class BuildThenCompile(chalice_deployer.BuildStage):
    """Chalice's build stage, then CompileBytecode over the same resources."""

    def __init__(self, build: chalice_deployer.BuildStage) -> None:
        super().__init__(steps=[CompileBytecode()])
        self._build = build

    def execute(self, config, resources) -> None:
        self._build.execute(config, resources)
        super().execute(config, resources)


def create_deployer(session, config, ui) -> chalice_deployer.Deployer:
    """Chalice's default deployer, its build stage followed by CompileBytecode."""
    deployer = chalice_deployer.create_default_deployer(session, config, ui)
    build = getattr(deployer, "_build_stage", None)
    if not isinstance(build, chalice_deployer.BuildStage):
        raise RuntimeError(f"chalice {chalice.__version__}: its Deployer has no _build_stage to add the bytecode "
                           "step to; tools/chalice_deploy.py needs updating for this version")
    deployer._build_stage = BuildThenCompile(build)
    return deployer


def deploy(project_dir: Path, stage: str, *, ui: UI | None = None) -> dict[str, Any]:
    """What `chalice --project-dir <project_dir> deploy --stage <stage>` does, with compiled zips; returns
    the deployed values Chalice records in .chalice/deployed/<stage>.json."""
    factory = CLIFactory(str(Path(project_dir).resolve()), environ=os.environ)
    config = factory.create_config_obj(chalice_stage_name=stage)
    session = factory.create_botocore_session()
    ui = ui or UI()
    deployed = create_deployer(session, config, ui).deploy(config, chalice_stage_name=stage)
    factory.create_deployment_reporter(ui=ui).display_report(deployed)
    return deployed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.chalice_deploy", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--stage", required=True)
    parser.add_argument("--project-dir", type=Path, default=Path.cwd())
    args = parser.parse_args(argv)
    # As the chalice command does: the app is imported knowing it is under a CLI, from the project's directory.
    os.environ["AWS_CHALICE_CLI_MODE"] = "true"
    os.chdir(args.project_dir)
    try:
        deploy(args.project_dir, args.stage)
    except chalice_deployer.ChaliceDeploymentError as exc:
        print(exc, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
