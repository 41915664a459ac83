"""Study files: a models x corpora design written down once (TOML), validated before any work starts.

Errors name the key and its line in the file. See ``examples/*.toml``.
"""

from __future__ import annotations

import math
import re
import sys
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from emovec.errors import EmovecError, SettingError
from emovec.extraction.config import RaySettings
from emovec.models.layers import check_layer_spec, parse_layer_spec
from emovec.models.reference import local_block_count, model_reference_problem

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ModelSpec(_Strict):
    name: str
    model: str
    revision: str | None = None
    dtype: Literal["float32", "bfloat16", "float16"] = "float32"
    device: str | None = None
    device_map: str | None = None
    layers_path: str | None = None
    trust_remote_code: bool = False
    text_format: Literal["raw", "chat"] = "raw"
    batch_size: int | None = Field(None, ge=1)
    max_batch_tokens: int | None = Field(None, ge=1)


class CorpusSpec(_Strict):
    name: str
    path: str | None = None
    generated_by: str | None = None
    neutral_path: str | None = None
    neutral: int = Field(0, ge=0)  # neutral dialogues to generate (generated corpora)
    topics: str | None = None
    topics_per_emotion: int = Field(3, ge=1)
    stories_per_prompt: int = Field(3, ge=1)
    design: Literal["sampled", "full"] = "sampled"
    temperature: float = Field(0.8, gt=0)
    top_p: float = Field(0.95, gt=0, le=1)
    max_new_tokens: int = Field(2048, ge=1)
    generation_batch_size: int = Field(8, ge=1)

    @model_validator(mode="after")
    def _one_source(self) -> CorpusSpec:
        if (self.path is None) == (self.generated_by is None):
            raise ValueError("give exactly one of 'path' and 'generated_by'")
        return self


class Reference(_Strict):
    label: str
    metric: Literal["r_pc1_valence", "r_pc2_arousal", "readout_r_valence", "readout_r_arousal"]
    value: float
    relative_depth: float | None = None
    model: str | None = None
    corpus: str | None = None


class Settings(_Strict):
    emotions: str = "anthropic171"
    norms: str = "russell1980"
    norms_scale: tuple[float, float] | None = None
    layers: str = "all"
    skip_tokens: int = Field(50, ge=0)
    max_length: int = Field(512, ge=1)
    weighting: Literal["token", "story"] = "token"
    denoise_variance: float = Field(0.5, gt=0, le=1)
    components: int = Field(10, ge=2)
    bootstrap: int = Field(1000, ge=0)
    permutations: int = Field(1000, ge=0)
    readout_folds: int = Field(10, ge=0)
    seed: int = 0
    scatter_layer: float | None = Field(None, ge=0, le=1)  # relative depth for PCA scatter (default: peak)
    ray: RaySettings | None = None  # run the stages on a Ray cluster: {} (local), {address = "auto", workers = 4}


class ProbingSpec(_Strict):
    """Detection batteries and token heatmaps run on each condition's vectors (``[probing]`` in a study)."""

    models: list[str] | None = None  # default: every model
    batteries: list[Literal["scenarios", "templates"]] = ["scenarios"]
    passages: list[str] = []  # shown token by token in the report
    reference: Literal["grand_mean", "texts"] = "texts"  # what battery reads are centred on
    permutations: int = Field(1000, ge=0)
    random_sets: int = Field(100, ge=0)


class SteeringSpec(_Strict):
    """A strength sweep with a random-direction control on each condition's vectors (``[steering]``)."""

    models: list[str] | None = None  # default: every model
    emotions: list[str] = Field(min_length=1)
    strengths: str = "-0.15:0.15:0.05"  # a number, a list a,b,c or a range START:STOP:STEP
    layers: str | None = None  # default: the vector layer nearest 2/3 depth
    phase: Literal["prompt", "response", "all"] = "response"
    prompts: list[str] = []  # default: the first two bundled neutral prompts
    max_new_tokens: int = Field(32, ge=1)
    control: bool = True

    @model_validator(mode="after")
    def _strengths(self) -> SteeringSpec:
        from emovec.steering.strengths import parse_strengths

        try:
            parse_strengths(self.strengths)
        except Exception as err:
            raise _KeyError("steering.strengths", str(err).split(": ", 1)[-1]) from None
        return self


class Study(_Strict):
    name: str
    out: str | None = None
    settings: Settings = Settings()
    models: list[ModelSpec] = Field(min_length=1)
    corpora: list[CorpusSpec] = Field(min_length=1)
    references: list[Reference] = []
    probing: ProbingSpec | None = None
    steering: SteeringSpec | None = None

    @model_validator(mode="after")
    def _names(self) -> Study:
        for kind, items in (("models", self.models), ("corpora", self.corpora)):
            names = [item.name for item in items]
            for i, name in enumerate(names):
                if not re.fullmatch(r"[A-Za-z0-9._-]+", name):
                    raise _KeyError(f"{kind}.{i}.name", f"name {name!r} may use letters, digits, '.', '_', '-'")
                if names.index(name) != i:
                    raise _KeyError(f"{kind}.{i}.name", f"duplicate name {name!r}")
        models = {m.name for m in self.models}
        for i, corpus in enumerate(self.corpora):
            if corpus.generated_by is not None and corpus.generated_by not in models:
                raise _KeyError(f"corpora.{i}.generated_by", f"no model named {corpus.generated_by!r}")
        for i, name in enumerate((self.probing.models or []) if self.probing else []):
            if name not in models:
                raise _KeyError(f"probing.models.{i}", f"no model named {name!r}")
        for i, name in enumerate((self.steering.models or []) if self.steering else []):
            if name not in models:
                raise _KeyError(f"steering.models.{i}", f"no model named {name!r}")
        return self

    def model(self, name: str) -> ModelSpec:
        return next(m for m in self.models if m.name == name)


class _KeyError(ValueError):
    def __init__(self, loc: str, message: str):
        super().__init__(message)
        self.loc, self.message = loc, message


def load_study(path: str | Path, settings: dict | None = None) -> tuple[Study, str]:
    """Parse and validate a study file; returns the study and its text. Paths resolve against its folder.

    ``settings`` overrides keys of the file's ``[settings]`` table before validation.
    """
    path = Path(path)
    if not path.exists():
        raise EmovecError(f"{path}: study file not found")
    text = path.read_text(encoding="utf-8")
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise EmovecError(f"{path}: not valid TOML ({err})") from None
    if settings:
        data["settings"] = {**data.get("settings", {}), **settings}
    try:
        study = Study(**data)
    except ValidationError as err:
        first = err.errors()[0]
        loc = [str(p) for p in first["loc"]]
        inner = first.get("ctx", {}).get("error")
        if isinstance(inner, _KeyError):
            loc, message = inner.loc.split("."), inner.message
        elif first["type"] == "extra_forbidden":
            message = f"unknown key {loc[-1]!r}"
        elif first["type"] == "missing":
            message = f"missing key {loc[-1]!r}"
        else:
            message = first["msg"].removeprefix("Value error, ")
        raise EmovecError(f"{path}: {_where(text, loc)}{'.'.join(loc)}: {message}") from None
    _check_values(study, path, text)
    return _resolved(study, path.parent), text


def _check_values(study: Study, path: Path, text: str) -> None:
    from emovec.analysis.emotion_sets import EMOTION_SETS
    from emovec.analysis.norms.registry import NORM_SETS

    def fail(loc: list[str], message: str) -> None:
        raise EmovecError(f"{path}: {_where(text, loc)}{'.'.join(loc)}: {message}")

    try:
        check_layer_spec(study.settings.layers)
    except SettingError as err:
        fail(["settings", "layers"], err.reason)
    norm_name = study.settings.norms.split(":", 1)[0]
    if norm_name not in NORM_SETS:
        fail(["settings", "norms"], f"unknown norm set {norm_name!r}")
    if NORM_SETS[norm_name].scale is None and study.settings.norms_scale is None:
        fail(["settings", "norms"], f"norm set {norm_name!r} needs its scale: add norms_scale = [LO, HI]")
    if NORM_SETS[norm_name].scale is None and ":" not in study.settings.norms:
        fail(["settings", "norms"], f"norm set {norm_name!r} needs a file: norms = \"{norm_name}:PATH\"")
    scale = study.settings.norms_scale
    if scale is not None and not (math.isfinite(scale[0]) and math.isfinite(scale[1]) and scale[0] < scale[1]):
        fail(["settings", "norms_scale"], f"needs finite LO < HI, got [{scale[0]}, {scale[1]}]")
    _, _, norm_file = study.settings.norms.partition(":")
    if norm_file and not (path.parent / norm_file).is_file():
        fail(["settings", "norms"], f"{norm_file} not found")
    for i, model in enumerate(study.models):
        local = path.parent / model.model
        problem = None if local.exists() else model_reference_problem(model.model)
        if problem:
            fail(["models", str(i), "model"], problem)
        n_blocks = local_block_count(local) if local.exists() else None
        if n_blocks is not None:
            try:
                parse_layer_spec(study.settings.layers, n_blocks)
            except SettingError as err:
                fail(["settings", "layers"], f"{err.reason} (model {model.name!r})")
        if model.device is not None:
            from emovec.models.loading import check_device

            try:
                check_device(model.device)
            except EmovecError as err:
                fail(["models", str(i), "device"], str(err))
    emotions = study.settings.emotions
    if emotions not in EMOTION_SETS and not (path.parent / emotions).exists():
        fail(["settings", "emotions"], f"unknown emotion set {emotions!r} (bundled: {', '.join(EMOTION_SETS)})")
    for i, corpus in enumerate(study.corpora):
        for key in ("path", "neutral_path", "topics"):
            value = getattr(corpus, key)
            if value is not None and not (path.parent / value).exists():
                fail(["corpora", str(i), key], f"{value} not found")


def _resolved(study: Study, base: Path) -> Study:
    """Make file paths absolute against the study file's folder."""

    def absolute(value: str | None) -> str | None:
        return None if value is None else str((base / value).resolve())

    settings = study.settings
    if settings.emotions not in ("anthropic171", "russell28"):
        settings = settings.model_copy(update={"emotions": absolute(settings.emotions)})
    name, _, norm_path = settings.norms.partition(":")
    if norm_path:
        settings = settings.model_copy(update={"norms": f"{name}:{absolute(norm_path)}"})
    corpora = [c.model_copy(update={k: absolute(getattr(c, k)) for k in ("path", "neutral_path", "topics")})
               for c in study.corpora]  # fmt: skip
    models = [m.model_copy(update={"model": absolute(m.model)}) if (base / m.model).exists() else m
              for m in study.models]  # fmt: skip
    return study.model_copy(update={"settings": settings, "corpora": corpora, "models": models})


def _where(text: str, loc: list[str]) -> str:
    """'line N: ' for the key at ``loc`` (e.g. ['corpora', '1', 'pathh']), or '' when it cannot be found."""
    lines = text.splitlines()
    table: list[str] = []
    counts: dict[str, int] = {}
    target_table, key = loc[:-1], loc[-1]
    for number, raw in enumerate(lines, start=1):
        line = raw.split("#", 1)[0].strip()
        header = re.fullmatch(r"\[\[\s*([\w.-]+)\s*\]\]", line)
        if header:
            name = header.group(1)
            counts[name] = counts.get(name, -1) + 1
            table = [name, str(counts[name])]
            if table == loc:
                return f"line {number}: "
            continue
        header = re.fullmatch(r"\[\s*([\w.-]+)\s*\]", line)
        if header:
            table = header.group(1).split(".")
            if table == loc:
                return f"line {number}: "
            continue
        match = re.match(r"([\w-]+)\s*=", line)
        if match and match.group(1) == key and table == target_table:
            return f"line {number}: "
    if len(loc) > 1:
        return _where(text, loc[:-1])  # a missing key: point at its table
    return ""
