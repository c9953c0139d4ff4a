"""Frozen configuration for every pipeline stage, loadable from TOML.

Parameters live in one place and reach the stage functions as plain arguments. Unknown keys are
rejected so a typo in a config file is an error, not a silently ignored setting.

Example TOML::

    seed = 42
    [embedding]
    backend = "hybrid"
    [umap]
    n_neighbors = 10
    [hdbscan]
    min_cluster_size = 4
"""

from __future__ import annotations

import dataclasses
import json
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import CorpusError


class ConfigError(CorpusError):
    """A setting has the wrong type or is out of range; the message (Japanese) names it."""


@dataclass(frozen=True)
class EmbeddingConfig:
    """Which embedding backend and its settings.

    backend : ``hybrid`` (default), ``sudachi``, ``use``, ``e5``, ``e5-hybrid`` or ``st:<name or path>``.
    lexical_weight, dense_weight : block weights of the hybrid backends (before L2 normalisation).
    svd_dims : maximum LSA dimensions of the ``sudachi`` backend.
    """

    backend: str = "hybrid"
    lexical_weight: float = 1.0
    dense_weight: float = 0.5
    svd_dims: int = 100


@dataclass(frozen=True)
class UmapConfig:
    """UMAP settings; ``n_components`` is the clustering space, the map is always 2-D.

    ``parallel_layout``: optimise the layout on all cores (``analysis.themes.layout``; as reproducible as
    umap-learn, and the same on any number of cores). ``False`` runs umap-learn's own single-threaded
    layout, identical to ``umap.UMAP(random_state=seed)``. Below 500 comments both are the same.
    """

    n_neighbors: int = 10
    n_components: int = 5
    min_dist: float = 0.0
    map_min_dist: float = 0.1
    metric: str = "cosine"
    parallel_layout: bool = True


@dataclass(frozen=True)
class HdbscanConfig:
    """HDBSCAN settings on the UMAP clustering space.

    The smallest theme has ``max(min_cluster_size, ceil(min_cluster_share * n))`` comments, so
    4 on the 108-comment seed but 50 on 10,000 comments (hundreds of 4-comment themes help nobody).
    Set ``min_cluster_share = 0`` to use ``min_cluster_size`` as is.
    """

    min_cluster_size: int = 4
    min_cluster_share: float = 0.005
    min_samples: int | None = 2
    cluster_selection_method: str = "leaf"
    cluster_selection_epsilon: float = 0.0


@dataclass(frozen=True)
class DescribeConfig:
    """Keywords and hierarchy settings."""

    n_keywords: int = 10
    label_keywords: int = 3
    mmr_diversity: float = 0.3
    n_broad: int | None = None  # number of broad themes; None picks about sqrt(n_clusters)


@dataclass(frozen=True)
class PipelineConfig:
    seed: int = 42
    embedding: EmbeddingConfig = field(default_factory=EmbeddingConfig)
    umap: UmapConfig = field(default_factory=UmapConfig)
    hdbscan: HdbscanConfig = field(default_factory=HdbscanConfig)
    describe: DescribeConfig = field(default_factory=DescribeConfig)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def replace(self, **changes: Any) -> "PipelineConfig":
        """Copy with changes; nested stages by ``"stage.key"``: ``cfg.replace(**{"umap.n_neighbors": 8})``."""
        top: dict[str, Any] = {}
        nested: dict[str, dict[str, Any]] = {}
        for key, value in changes.items():
            if "." in key:
                stage, sub = key.split(".", 1)
                nested.setdefault(stage, {})[sub] = value
            else:
                top[key] = value
        for stage, subs in nested.items():
            _check_keys(type(getattr(self, stage)), subs, stage)
            top[stage] = dataclasses.replace(getattr(self, stage), **subs)
        _check_keys(PipelineConfig, top, "")
        return validate(dataclasses.replace(self, **top))


_STAGES = {"embedding": EmbeddingConfig, "umap": UmapConfig, "hdbscan": HdbscanConfig, "describe": DescribeConfig}

# (type, minimum, maximum, allowed values, may be None) per setting; ranges are what the stages accept
# (a seed must fit numpy's RandomState, UMAP needs at least 2 neighbours, …).
_RULES: dict[str, tuple[type, float | None, float | None, tuple | None, bool]] = {
    "seed": (int, 0, 2**32 - 1, None, False),
    "embedding.backend": (str, None, None, None, False),
    "embedding.lexical_weight": (float, 0.0, 100.0, None, False),
    "embedding.dense_weight": (float, 0.0, 100.0, None, False),
    "embedding.svd_dims": (int, 2, 2000, None, False),
    "umap.n_neighbors": (int, 2, 500, None, False),
    "umap.n_components": (int, 2, 100, None, False),
    "umap.min_dist": (float, 0.0, 1.0, None, False),
    "umap.map_min_dist": (float, 0.0, 1.0, None, False),
    "umap.metric": (str, None, None, ("cosine", "euclidean"), False),
    "umap.parallel_layout": (bool, None, None, None, False),
    "hdbscan.min_cluster_size": (int, 2, 1_000_000, None, False),
    "hdbscan.min_cluster_share": (float, 0.0, 0.5, None, False),
    "hdbscan.min_samples": (int, 1, 1000, None, True),
    "hdbscan.cluster_selection_method": (str, None, None, ("leaf", "eom"), False),
    "hdbscan.cluster_selection_epsilon": (float, 0.0, 100.0, None, False),
    "describe.n_keywords": (int, 1, 50, None, False),
    "describe.label_keywords": (int, 1, 10, None, False),
    "describe.mmr_diversity": (float, 0.0, 1.0, None, False),
    "describe.n_broad": (int, 1, 1000, None, True),
}
_TYPE_JA = {int: "整数", float: "数値", str: "文字列", bool: "true または false"}


def _check_value(key: str, value: Any) -> Any:
    """The value for setting ``key`` if it has the right type and range, else :class:`ConfigError`."""
    typ, lo, hi, allowed, nullable = _RULES[key]
    if value is None:
        if nullable:
            return None
        raise ConfigError(f"設定「{key}」に値がありません。{_TYPE_JA[typ]}で指定してください。")
    ok = (
        (typ is bool and isinstance(value, bool))
        or (typ is int and isinstance(value, int) and not isinstance(value, bool))
        or (typ is float and isinstance(value, (int, float)) and not isinstance(value, bool))
        or (typ is str and isinstance(value, str))
    )
    if not ok:
        raise ConfigError(f"設定「{key}」は{_TYPE_JA[typ]}で指定してください（指定された値: {value!r}）。")
    if typ is float:
        value = float(value)
        if value != value or value in (float("inf"), float("-inf")):
            raise ConfigError(f"設定「{key}」に有限の数値を指定してください（指定された値: {value!r}）。")
    if typ is str:
        value = value.strip()
        if not value:
            raise ConfigError(f"設定「{key}」が空です。")
    if allowed is not None and value not in allowed:
        raise ConfigError(f"設定「{key}」には {'、'.join(map(str, allowed))} のどれかを指定してください（指定された値: {value!r}）。")
    if lo is not None and value < lo or hi is not None and value > hi:
        raise ConfigError(f"設定「{key}」は {lo:g} 以上 {hi:g} 以下にしてください（指定された値: {value!r}）。")
    return value


def validate(cfg: "PipelineConfig") -> "PipelineConfig":
    """The one normalising path: ``cfg`` with every setting checked for type and range and
    normalised (ints given for floats become floats, strings are stripped); :class:`ConfigError`
    names the first setting that is wrong. ``replace`` and ``config_from_dict`` both end here."""
    stages: dict[str, dict[str, Any]] = {}
    top: dict[str, Any] = {}
    for key in _RULES:
        obj: Any = cfg
        for part in key.split("."):
            obj = getattr(obj, part)
        value = _check_value(key, obj)
        if "." in key:
            stage, sub = key.split(".", 1)
            stages.setdefault(stage, {})[sub] = value
        else:
            top[key] = value
    out = dataclasses.replace(cfg, **top, **{s: dataclasses.replace(getattr(cfg, s), **v) for s, v in stages.items()})
    if out.embedding.lexical_weight == 0 and out.embedding.dense_weight == 0:
        raise ConfigError("設定「embedding.lexical_weight」と「embedding.dense_weight」の両方を 0 にはできません。")
    return out


def _check_keys(cls: type, data: dict[str, Any], where: str) -> None:
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - known)
    if unknown:
        place = f"[{where}] の" if where else ""
        raise ConfigError(
            f"設定{place}項目 {', '.join(unknown)} は使えません。使える項目: {', '.join(sorted(known))}"
        )


def config_from_dict(data: dict[str, Any]) -> PipelineConfig:
    """Build a config from nested dicts (as in TOML or a run manifest); unknown keys are rejected."""
    if not isinstance(data, dict):
        raise ConfigError("設定は表（キーと値の組）で指定してください。")
    _check_keys(PipelineConfig, data, "")
    kwargs: dict[str, Any] = {}
    for key, value in data.items():
        if key in _STAGES:
            if not isinstance(value, dict):
                raise ConfigError(f"設定 [{key}] は表（テーブル）で指定してください。")
            _check_keys(_STAGES[key], value, key)
            kwargs[key] = _STAGES[key](**value)
        else:
            kwargs[key] = value
    return validate(PipelineConfig(**kwargs))


def load_config(path: str | Path) -> PipelineConfig:
    """Read a TOML config file."""
    p = Path(path)
    try:
        data = tomllib.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ConfigError(f"設定ファイルが見つかりません: {p}") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"設定ファイルを読み込めません（UTF-8 のテキストファイルを指定してください）: {p}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"設定ファイルの書式が正しくありません（TOML）: {exc}") from exc
    return config_from_dict(data)


def config_json(cfg: Any) -> str:
    """Canonical JSON of a (stage) config, used in cache keys."""
    if dataclasses.is_dataclass(cfg):
        cfg = dataclasses.asdict(cfg)
    return json.dumps(cfg, sort_keys=True, ensure_ascii=False)
