"""Extraction on a Ray cluster: a pool of actors, each loading the model once and pooling whole shards.

The driver (:func:`emovec.extraction.pipeline.extract` with ``ray=``) plans the same shards a single process
plans, hands the unfinished ones to a :class:`ray.util.ActorPool`, and writes each shard and the manifest
itself as results come in, so the directory is the one a single process writes and resumes the same way.
A worker that dies is restarted by Ray and its shard retried (``max_restarts``/``max_task_retries``); a
driver that dies leaves finished shards recorded, and the next run computes only the rest.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from typing import Any

import numpy as np

from emovec.errors import EmovecError
from emovec.extraction.config import ExtractConfig, RaySettings
from emovec.extraction.tokenization import EncodedStories
from emovec.extraction.workers import ShardArrays, compute_shard, describe_model, encode

INSTALL = "pip install 'emovec[ray]'"
RESTARTS = 3  # times Ray restarts a dead worker and retries its shard before the run fails


def require_ray():
    """The ``ray`` module, or a one-line error saying how to install it."""
    try:
        import ray
    except ImportError:
        raise EmovecError(f"--ray needs Ray, which is not installed: {INSTALL}") from None
    return ray


def connect(settings: RaySettings):
    """Join the cluster at ``settings.address`` (or the one this process already joined, or a new local one)."""
    ray = require_ray()
    if ray.is_initialized():
        return ray, False
    try:
        ray.init(address=settings.address, include_dashboard=False, logging_level=logging.ERROR,
                 log_to_driver=False)  # fmt: skip
    except (ConnectionError, RuntimeError, ValueError) as err:
        where = settings.address or "a local cluster"
        raise EmovecError(f"--ray-address {where}: cannot join the Ray cluster ({str(err).splitlines()[0]})") from None
    return ray, True


def worker_layout(settings: RaySettings, resources: dict, shards: int) -> tuple[int, dict]:
    """``(workers, actor options)`` from the settings and the cluster's resources; no more workers than shards."""
    gpus = float(resources.get("GPU", 0))
    cpus = float(resources.get("CPU", 1))
    per_gpu = settings.gpus_per_worker if settings.gpus_per_worker is not None else (1.0 if gpus else 0.0)
    if per_gpu > gpus:
        raise EmovecError(f"--gpus-per-worker {per_gpu:g}: the Ray cluster has {gpus:g} GPU(s)")
    if settings.workers is not None:
        workers = settings.workers
    elif per_gpu:
        workers = max(1, int(gpus // per_gpu))
    else:
        workers = max(1, int(cpus // 4))
    workers = max(1, min(workers, shards))
    options = {"num_gpus": per_gpu, "num_cpus": max(1, int(cpus // workers)) if not per_gpu else 1}
    return workers, options


class ShardWorker:
    """A Ray actor's state: one loaded model; pools the shards it is given."""

    def __init__(self, model: Any, load: dict) -> None:
        from emovec.models.loading import load_model

        self.loaded = load_model(model, **load)

    def describe(self) -> dict:
        return describe_model(self.loaded)

    def encode(self, texts: list[str], config: ExtractConfig, max_length: int) -> EncodedStories:
        return encode(self.loaded, texts, config, max_length)

    def compute(self, index: int, rows: np.ndarray, ids: list[list[int]], layers: list[int],
                config: ExtractConfig) -> tuple[int, ShardArrays]:  # fmt: skip
        return index, compute_shard(self.loaded, rows, ids, layers, config)


class RayShards:
    """The actor pool of one extraction; :meth:`compute` yields shards as they finish."""

    def __init__(self, model: Any, load: dict, settings: RaySettings, n_shards: int,
                 worker_class: type = ShardWorker) -> None:  # fmt: skip
        self.ray, self.started = connect(settings)
        self.workers, options = worker_layout(settings, self.ray.cluster_resources(), max(n_shards, 1))
        if options["num_gpus"] > 1 and not load.get("device_map"):
            load = {**load, "device_map": "auto"}  # a worker with several GPUs spreads its model over them
        elif options["num_gpus"] and not load.get("device_map"):
            load = {**load, "device": load.get("device") or "cuda"}
        actor = self.ray.remote(worker_class).options(max_restarts=RESTARTS, max_task_retries=RESTARTS, **options)
        self.actors = [actor.remote(model, load) for _ in range(self.workers)]
        self.options = options

    def describe(self) -> dict:
        return self._get(self.actors[0].describe.remote())

    def encode(self, texts: list[str], config: ExtractConfig, max_length: int) -> EncodedStories:
        return self._get(self.actors[0].encode.remote(texts, config, max_length))

    def compute(self, todo: list[int], shards: list[np.ndarray], encoded: EncodedStories, layers: list[int],
                config: ExtractConfig) -> Iterator[tuple[int, ShardArrays]]:  # fmt: skip
        from ray.util import ActorPool

        pool = ActorPool(self.actors)
        work = [(i, shards[i], [encoded.ids[r] for r in shards[i].tolist()]) for i in todo]
        results = pool.map_unordered(lambda a, w: a.compute.remote(w[0], w[1], w[2], layers, config), work)
        while True:
            try:
                yield self._next(results)
            except StopIteration:
                return

    def close(self) -> None:
        for actor in self.actors:
            self.ray.kill(actor)
        if self.started:
            self.ray.shutdown()

    def _next(self, results):
        try:
            return next(results)
        except StopIteration:
            raise
        except self.ray.exceptions.RayError as err:
            raise EmovecError(worker_error(err)) from None

    def _get(self, ref):
        try:
            return self.ray.get(ref)
        except self.ray.exceptions.RayError as err:
            raise EmovecError(worker_error(err)) from None


_EMOVEC_ERROR = re.compile(r"(?:emovec\.errors\.)?(?:EmovecError|SettingError): (.+)")


def worker_error(err: Exception) -> str:
    """One line for an error a worker raised: emovec's own message as it is, else Ray's last line."""
    found = _EMOVEC_ERROR.findall(str(err))
    if found:
        return found[-1].strip()
    lines = [line.strip() for line in str(err).splitlines() if line.strip()]
    return f"a Ray worker failed: {lines[-1] if lines else type(err).__name__}"
