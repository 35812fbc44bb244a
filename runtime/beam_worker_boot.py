#!/usr/bin/env python3
"""Boot program of a Beam SDK worker that installs what the job staged.

Python's worker pool (`python -m apache_beam.runners.worker.worker_pool_main
--service_port N`) starts SDK harnesses that never install the job's staged
artifacts (--extra_package, --setup_file, --requirements_file), so workers
without this project fail in Transform with `No module named
'trainer_module'` (TFT pickles preprocessing_fn by reference). Given to the
pool as `--container_executable`, this program does what Beam's container
boot (boot.go) does, for a worker that is a plain Python environment:

1. asks the provision service for the job's options and dependencies;
2. fetches the staged artifacts from the artifact service;
3. pip-installs, into a private folder keyed by the artifacts' content
   (shared by later workers of the same content, never downloading):
   requirements.txt from the staged files only, then the extra packages
   in their staged order and the --setup_file tarball without their
   dependencies, which the worker environment must have (TFX, TensorFlow);
4. replaces itself by the SDK harness (apache_beam.runners.worker.
   sdk_worker_main) with that folder first on its PYTHONPATH.

It imports only Beam (with its grpc and protobuf) and the standard library
(it runs where the project is not installed), so run it as a file:
`--container_executable /path/to/beam_worker_boot.py` (executable; `python3`
on the pool's PATH must be the worker environment's). Folders go under
$TMPDIR/beam-worker-boot.
Output goes to stderr: the pool pipes the worker's stdout and never reads it.
"""
import argparse
import hashlib
import logging
import os
import shutil
import subprocess
import sys
import tempfile
from typing import Dict, List, Optional, Sequence

import grpc
from google.protobuf import json_format

from apache_beam.portability import common_urns
from apache_beam.portability.api import (beam_artifact_api_pb2,
                                         beam_artifact_api_pb2_grpc,
                                         beam_provision_api_pb2,
                                         beam_provision_api_pb2_grpc,
                                         beam_runner_api_pb2, endpoints_pb2)

_LOG = logging.getLogger("beam_worker_boot")
HARNESS_MODULE = "apache_beam.runners.worker.sdk_worker_main"
# Beam's stager names (apache_beam/runners/portability/stager.py).
EXTRA_PACKAGES_FILE = "extra_packages.txt"
SETUP_TARBALL = "workflow.tar.gz"
REQUIREMENTS_FILE = "requirements.txt"
STAGED = "staged"  # sdk_worker_main finds a pickled main session here
SITE = "site"


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    """The flags the worker pool passes to a container executable."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--id", required=True, help="the worker's id")
    parser.add_argument("--logging_endpoint", default="")
    parser.add_argument("--artifact_endpoint", required=True)
    parser.add_argument("--provision_endpoint", required=True)
    parser.add_argument("--control_endpoint", required=True)
    parser.add_argument("--semi_persist_dir", default=os.path.join(
        tempfile.gettempdir(), "beam-worker-boot"))
    return parser.parse_known_args(argv)[0]


def main(argv: Optional[Sequence[str]] = None) -> None:
    # The pool's pipe on stdout fills up unread: pip and the harness print
    # to stderr instead.
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(asctime)s beam_worker_boot %(message)s")
    args = parse_args(argv)
    metadata = [("worker_id", args.id)]
    info = provision_info(args.provision_endpoint, metadata)
    work_dir = prepare(info, args.artifact_endpoint, metadata,
                       args.semi_persist_dir)
    start_harness(harness_environment(info, args, work_dir))


def provision_info(endpoint: str, metadata: List[tuple]
                   ) -> beam_provision_api_pb2.ProvisionInfo:
    """The job's options, dependencies and endpoints for this worker (the
    runner looks the worker up by the worker_id metadata)."""
    with grpc.insecure_channel(endpoint) as channel:
        stub = beam_provision_api_pb2_grpc.ProvisionServiceStub(channel)
        return stub.GetProvisionInfo(
            beam_provision_api_pb2.GetProvisionInfoRequest(),
            metadata=metadata).info


def prepare(info: beam_provision_api_pb2.ProvisionInfo, artifact_endpoint: str,
            metadata: List[tuple], root: str) -> str:
    """The worker's folder: root/<content hash> with the artifacts in
    staged/ and the packages installed in site/; made once per content."""
    os.makedirs(root, exist_ok=True)
    if not info.dependencies:
        return root
    scratch = tempfile.mkdtemp(dir=root, prefix="tmp-")
    try:
        staged = os.path.join(scratch, STAGED)
        os.makedirs(staged)
        fetch_artifacts(artifact_endpoint, metadata, info.dependencies,
                        staged)
        final = os.path.join(root, content_key(staged))
        if os.path.isdir(final):
            _LOG.info("reusing %s", final)
            return final
        install_staged(staged, os.path.join(scratch, SITE))
        try:
            os.rename(scratch, final)
        except OSError:  # a worker of the same job got there first
            if not os.path.isdir(final):
                raise
        return final
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def fetch_artifacts(endpoint: str, metadata: List[tuple],
                    dependencies: Sequence[
                        beam_runner_api_pb2.ArtifactInformation],
                    staged: str) -> List[str]:
    """Writes each dependency to staged/<its staged name>; the names."""
    names = []
    with grpc.insecure_channel(endpoint) as channel:
        stub = beam_artifact_api_pb2_grpc.ArtifactRetrievalServiceStub(
            channel)
        resolved = stub.ResolveArtifacts(
            beam_artifact_api_pb2.ResolveArtifactsRequest(
                artifacts=dependencies), metadata=metadata).replacements
        for artifact in resolved:
            name = staged_name(artifact)
            with open(os.path.join(staged, name), "wb") as out:
                for chunk in stub.GetArtifact(
                        beam_artifact_api_pb2.GetArtifactRequest(
                            artifact=artifact), metadata=metadata):
                    out.write(chunk.data)
            names.append(name)
    _LOG.info("fetched %s", ", ".join(names))
    return names


def staged_name(artifact: beam_runner_api_pb2.ArtifactInformation) -> str:
    """The file name the submitter staged the artifact under."""
    if artifact.role_urn != common_urns.artifact_roles.STAGING_TO.urn:
        raise ValueError(f"cannot place an artifact of role "
                         f"{artifact.role_urn!r}")
    name = beam_runner_api_pb2.ArtifactStagingToRolePayload.FromString(
        artifact.role_payload).staged_name
    if not name or os.path.basename(name) != name:
        raise ValueError(f"bad staged name {name!r}")
    return name


def content_key(staged: str) -> str:
    """Hash of the staged files and of this interpreter: equal keys, equal
    installs."""
    digest = hashlib.sha256(f"{sys.executable}\0{sys.version}".encode())
    for name in sorted(os.listdir(staged)):
        with open(os.path.join(staged, name), "rb") as handle:
            digest.update(name.encode() + b"\0"
                          + hashlib.sha256(handle.read()).digest())
    return digest.hexdigest()[:16]


def install_staged(staged: str, site: str) -> None:
    """pip-installs the staged packages into site, as boot.go orders them:
    requirements, then the extra packages, then the setup tarball."""
    os.makedirs(site)
    pip = [sys.executable, "-m", "pip", "install", "--target", site,
           "--no-index", "--no-build-isolation", "--no-cache-dir",
           "--disable-pip-version-check", "--quiet"]
    requirements = os.path.join(staged, REQUIREMENTS_FILE)
    if os.path.isfile(requirements):
        _run([*pip, "--find-links", staged, "-r", requirements])
    packages = [os.path.join(staged, name) for name in extra_packages(staged)]
    if os.path.isfile(os.path.join(staged, SETUP_TARBALL)):
        packages.append(os.path.join(staged, SETUP_TARBALL))
    if packages:
        _run([*pip, "--no-deps", *packages])
    _LOG.info("installed %s into %s",
              ", ".join(map(os.path.basename, packages)) or "nothing", site)


def extra_packages(staged: str) -> List[str]:
    """The --extra_package files, in the order the submitter gave them."""
    listing = os.path.join(staged, EXTRA_PACKAGES_FILE)
    if not os.path.isfile(listing):
        return []
    with open(listing) as handle:
        return [line.strip() for line in handle if line.strip()]


def harness_environment(info: beam_provision_api_pb2.ProvisionInfo,
                        args: argparse.Namespace,
                        work_dir: str) -> Dict[str, str]:
    """What sdk_worker_main reads from its environment (as boot.go sets
    it), with the installed packages first on the import path."""
    env = dict(os.environ)
    site = os.path.join(work_dir, SITE)
    if os.path.isdir(site):
        env["PYTHONPATH"] = os.pathsep.join(
            filter(None, [site, env.get("PYTHONPATH")]))
    logging_url = args.logging_endpoint or info.logging_endpoint.url
    env.update({
        "WORKER_ID": args.id,
        "PIPELINE_OPTIONS": json_format.MessageToJson(info.pipeline_options),
        "SEMI_PERSISTENT_DIRECTORY": work_dir,
        "CONTROL_API_SERVICE_DESCRIPTOR": _descriptor(args.control_endpoint),
        "RUNNER_CAPABILITIES": " ".join(info.runner_capabilities),
    })
    if logging_url:
        env["LOGGING_API_SERVICE_DESCRIPTOR"] = _descriptor(logging_url)
    if info.status_endpoint.url:
        env["STATUS_API_SERVICE_DESCRIPTOR"] = _descriptor(
            info.status_endpoint.url)
    return env


def start_harness(env: Dict[str, str]) -> None:
    """Becomes the SDK harness (same process: the pool stops the worker by
    signalling the process it started)."""
    command = [sys.executable, "-m", HARNESS_MODULE]
    _LOG.info("starting %s", " ".join(command))
    sys.stderr.flush()
    os.execve(sys.executable, command, env)


def _descriptor(url: str) -> str:
    return str(endpoints_pb2.ApiServiceDescriptor(url=url))


def _run(command: List[str]) -> None:
    subprocess.run(command, check=True, stdout=sys.stderr)


if __name__ == "__main__":
    main()
