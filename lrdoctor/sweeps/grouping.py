"""Finding sweeps: which runs share everything but the swept parameter.

Small per-run `Member`s carry what grouping needs, so an audit's workers can send them back
instead of curves; `lrdoctor.sweep` judges the groups found here and recommends an LR.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from lrdoctor.model import Run
from lrdoctor.roles import assign_roles
from lrdoctor.sweeps.finder import ramp
from lrdoctor.sweeps.values import positive_number

# Param names (the last part of a dotted or slashed key) that hold the learning rate.
LR_KEYS = ("lr", "learning_rate", "learningrate", "base_lr", "max_lr", "peak_lr", "init_lr")
_NUMBER = r"(\d+(?:\.\d*)?(?:e[-+]?\d+)?|\.\d+(?:e[-+]?\d+)?)"
_DIGITS = re.compile(r"\d+(?:\.\d+)?(?:e[-+]?\d+)?", re.IGNORECASE)
_CHECKPOINT = re.compile(r"checkpoint-\d+")
# Files that are one run's log in a folder of their own: the folder is the run.
_RUN_FILES = {"metrics.csv", "trainer_state.json", "training.log"}


@dataclass(frozen=True)
class SweepOptions:
    """Every threshold that decides how a sweep is found and read, with its default.

    by: the swept parameter ("lr": any LR param, the peak of the LR curve, or the run name).
    group_by: params whose values always split runs into separate sweeps.
    ignore_params: params that never split a sweep (bookkeeping that differs between runs
        of one sweep, such as where a run was written or when a diverged run stopped).
    min_values: distinct swept values a group needs to be read as a sweep.
    max_length_ratio: a run whose loss stays finite but whose last step is more than this
        factor off the group's median last step is not of the sweep (another budget).
    same_lr_tolerance: LRs within this share of each other are one point of the grid.
    max_point_share: no point of a sweep's grid holds more than this share of its runs.
    max_spacing_ratio: the widest gap between neighbouring points of a sweep's grid (on a
        log scale) is at most this many times the narrowest.
    max_start_ratio: when only the folder groups runs (no shared param, every LR from an
        LR curve), a run whose first logged loss is more than this factor off the group's
        median is not of the sweep (another model or task).
    smooth_share: the train loss is smoothed by a moving average over this share of its
        points before the trend, rebound and best loss are measured.
    tail_share: the loss at the budget is the mean of the points in this last share of it.
    max_trend: mostly monotonic needs Kendall's tau of the smoothed loss against the step
        at most this (negative: falling).
    max_rebound: mostly monotonic needs the largest climb of the smoothed log loss above
        its running minimum to be at most this share of its total drop.
    max_rise: stable needs the loss at the budget at most this share above its first
        smoothed value (0: it must end below where it started).
    val_tolerance: a loss within this share of the best counts as just as good, so the
        larger LR is kept.
    max_confounded_share: when more than this share of a sweep's runs is diagnosed with a
        confounder (noise, exploding gradients, feature scaling), it cannot be read.
    """

    by: str = "lr"
    group_by: tuple[str, ...] = ()
    ignore_params: tuple[str, ...] = (
        "run_name",
        "output_dir",
        "logging_dir",
        "max_steps",
        "num_train_epochs",
    )
    min_values: int = 3
    max_length_ratio: float = 2.0
    max_start_ratio: float = 10.0
    same_lr_tolerance: float = 0.1
    max_point_share: float = 0.5
    max_spacing_ratio: float = 10.0
    smooth_share: float = 0.05
    tail_share: float = 0.1
    max_trend: float = 0.0
    max_rebound: float = 0.25
    max_rise: float = 0.0
    val_tolerance: float = 0.02
    max_confounded_share: float = 0.5


@dataclass(frozen=True)
class Member:
    """What finding sweeps needs of one run: small, so an audit's workers can send it back
    instead of the run's curves."""

    name: str
    source: str
    format: str
    metadata: Mapping[str, str]  # the MLflow experiment's id and name, where there is one
    params: Mapping[str, str]
    value: float | None  # the swept value, None when the run has none
    where: str  # where the value came from: params, curve or name
    finder: bool  # an LR range test: in no sweep
    last_step: int | None  # of a training loss finite all through, else None
    first_loss: float | None  # its first value, when positive


@dataclass(frozen=True)
class SweepGroup:
    """The runs of one sweep, before each LR is judged."""

    name: str
    source: str  # the MLflow experiment or the folder that holds the runs
    group: dict[str, str]  # the values of the params that split its container
    members: tuple[Member, ...]

    def to_dict(self) -> dict:
        ordered = sorted(self.members, key=lambda member: (member.value, member.name))
        return {
            "name": self.name,
            "source": self.source,
            "group": dict(self.group),
            "runs": [{"name": m.name, "source": m.source, "value": m.value} for m in ordered],
        }


def sweep_member(run: Run, by: str = "lr", signals: Mapping[str, str] | None = None) -> Member:
    """The `Member` of `run`: its swept value, where it is kept, and the shape of its loss."""
    finder = ramp(run, signals=signals) is not None if by == "lr" else False
    value, where = (None, "") if finder else swept_value(run, by, signals)
    last_step = first_loss = None
    tag = assign_roles(run, signals).get("train_loss")
    if tag is not None and len(run.curves[tag]):
        curve = run.curves[tag]
        if np.isfinite(curve.values).all():
            last_step = max(int(curve.steps[-1]), 1)
            if curve.values[0] > 0:
                first_loss = float(curve.values[0])
    experiment = {
        key: str(run.metadata[key])
        for key in ("experiment_id", "experiment_name")
        if run.metadata.get(key) is not None
    }
    return Member(
        run.name,
        run.source,
        run.format,
        experiment,
        dict(run.params),
        value,
        where,
        finder,
        last_step,
        first_loss,
    )


def group_sweeps(
    members: Sequence[Member], options: SweepOptions | None = None
) -> tuple[list[tuple[list[SweepGroup], tuple[str, ...]]], list[str]]:
    """The sweeps among `members`: per container, its sweeps and the params that split
    them; and the names of the runs in no sweep (range tests are in neither)."""
    options = options or SweepOptions()
    located, unswept = [], []
    for member in members:
        if member.finder:
            continue
        if member.value is None:
            unswept.append(member.name)
        else:
            located.append((member, member.value, member.where))
    found = []
    for (container, label), in_container in _containers(located).items():
        groups, axes = _split(in_container, options)
        sweeps = []
        for group_values, members_of_group in groups.items():
            group, apart = _coherent(members_of_group, options)
            unswept.extend(member.name for member, _, _ in apart)
            if not _is_grid([value for _, value, _ in group], options):
                unswept.extend(member.name for member, _, _ in group)
                continue
            shown = {key: value for key, value in group_values if value != "-"}
            name = label + "".join(f" [{key}={value}]" for key, value in shown.items())
            sweeps.append(SweepGroup(name, container, shown, tuple(m for m, _, _ in group)))
        found.append((sweeps, axes))
    return found, unswept


# -- Where a run's LR and its sweep come from -------------------------------------------------


def swept_value(
    run: Run, by: str, signals: Mapping[str, str] | None = None
) -> tuple[float | None, str]:
    """(value, where it came from): the run's params, else the peak of its LR curve, else
    its name (`lr_0.001`, `lr3e-4`, `lr=0.1`); (None, "") when none holds it."""
    keys = sorted((key for key in run.params if _is_swept_key(key, by)), key=_key_rank)
    for key in keys:
        number = positive_number(run.params[key])
        if number is not None:
            return number, "params"
    if by == "lr":
        tag = assign_roles(run, signals).get("lr")
        if tag is not None:
            values = run.curves[tag].values
            values = values[np.isfinite(values) & (values > 0)]
            if values.size:
                return float(f"{values.max():.6g}"), "curve"
    matches = list(_name_pattern(by).finditer(run.name))
    if matches:
        match = matches[-1]  # the run's own folder or file, not a folder above it
        number = positive_number(match.group(2))
        if number is not None:
            return number, "name"
    return None, ""


def _last_part(key: str) -> str:
    """`optimizer.lr`, `optim/learning-rate` -> `lr`, `learning_rate`."""
    return re.split(r"[./]", key.lower())[-1].replace("-", "_")


def _is_swept_key(key: str, by: str) -> bool:
    last = _last_part(key)
    return last in LR_KEYS if by == "lr" else key == by or last == _last_part(by)


def _key_rank(key: str) -> tuple[int, int, str]:
    """Plain `lr` before `max_lr`; a top-level key before a nested one."""
    last = _last_part(key)
    return (LR_KEYS.index(last) if last in LR_KEYS else 0, key.count(".") + key.count("/"), key)


def _name_pattern(by: str) -> re.Pattern:
    words = "lr|learning[_-]?rate" if by == "lr" else re.escape(by)
    return re.compile(rf"(?<![a-z])({words})[_=-]?{_NUMBER}", re.IGNORECASE)


def _run_location(run: Run | Member) -> Path:
    """The folder (or file) that is this run: a Trainer output dir, a Lightning version,
    a TensorBoard run folder, a CSV file."""
    path = Path(run.source)
    if path.name in _RUN_FILES:
        path = path.parent
    return path.parent if _CHECKPOINT.fullmatch(path.name) else path


def _containers(located: list) -> dict[tuple[str, str], list]:
    """Runs by what holds them: an MLflow experiment, else the nearest folder above each
    run that holds other runs too (so `lightning_logs/<name>/version_0` for each run still
    groups by `lightning_logs`)."""
    groups: dict[tuple[str, str], list] = defaultdict(list)
    files = []
    for item in located:
        run = item[0]
        if run.format == "mlflow" and "experiment_id" in run.metadata:
            store = run.source.rsplit("#", 1)[0]
            key = f"{store}#experiment={run.metadata['experiment_id']}"
            groups[(key, run.metadata.get("experiment_name") or key)].append(item)
        else:
            files.append((item, _run_location(item[0]).resolve()))
    counts: Counter = Counter()
    for _, location in files:
        counts.update(location.parents)
    by_folder: dict[Path, list] = defaultdict(list)
    for item, location in files:
        container = next((p for p in location.parents if counts[p] >= 2), location.parent)
        by_folder[container].append(item)
    for container, items in by_folder.items():
        groups[(str(container), _label([item[0].name for item in items], container))] = items
    return groups


def _label(names: list[str], container: Path) -> str:
    """The container as the user sees it: what the runs' names share, else its folder name."""
    split = [name.split("/")[:-1] for name in names]
    shared = []
    for parts in zip(*split, strict=False):
        if len(set(parts)) > 1:
            break
        shared.append(parts[0])
    return "/".join(shared) or container.name


def _split(members: list, options: SweepOptions) -> tuple[dict, tuple[str, ...]]:
    """Split a container's runs by params that vary between them but are not identifiers
    (one value per run in every run: a seed, a run id), by the `group_by` params, and by the
    name with its LR taken out; returns the groups by their split values and the params
    that split them."""
    params = [_other_params(run, options) for run, _, _ in members]
    keys = sorted({key for p in params for key in p})
    axes = []
    for key in keys:
        values = [p[key] for p in params if key in p]
        distinct = len(set(values))
        # One value per run, logged by every run, is an identifier (a seed, a run id).
        identifier = distinct == len(values) == len(params)
        if key in options.group_by or (distinct > 1 and not identifier):
            axes.append(key)
    for key in options.group_by:
        if key not in axes:
            axes.append(key)
    shapes = [_name_shape(run.name, options.by) for run, _, _ in members]
    stems = [stem for stem, _ in shapes]
    groups: dict[tuple, list] = defaultdict(list)
    partial = []
    for item, p, stem in zip(members, params, stems, strict=True):
        if all(key in p for key in axes):
            groups[tuple((key, p[key]) for key in axes)].append((item, stem))
        else:
            partial.append((item, p, stem))
    for item, p, stem in partial:
        # A run that lacks a param the others split on (a writer that logged no hparams for
        # it) joins the one largest group it agrees with, else stands alone.
        agree = sorted(
            (len(items), values)
            for values, items in groups.items()
            if any(s == stem for _, s in items) and all(p.get(k, v) == v for k, v in values)
        )
        if agree and (len(agree) == 1 or agree[-1][0] > agree[-2][0]):
            groups[agree[-1][1]].append((item, stem))
        else:
            groups[tuple((key, p.get(key, "-")) for key in axes)].append((item, stem))
    # Names that differ only in the LR agree; another stem is another set-up.
    by_stem: dict[tuple, list] = {}
    for values, items in groups.items():
        common = Counter(stem for _, stem in items).most_common(1)[0][0]
        for item, stem in items:
            label = values if stem == common else values + (("name", stem or "-"),)
            by_stem.setdefault(label, []).append(item)
    numbers = {id(item[0]): dict(found) for item, (_, found) in zip(members, shapes, strict=True)}
    split: dict[tuple, list] = {}
    name_axes: list[str] = []
    for label, items in by_stem.items():
        for values, part in _split_by_name_numbers(items, numbers, options).items():
            name_axes += [key for key, _ in values if key not in name_axes]
            split[label + values] = part
    return split, tuple(axes + name_axes)


def _name_shape(name: str, by: str) -> tuple[str | None, tuple[tuple[str, str], ...]]:
    """A name with its LR taken out and its other numbers replaced by `#` (the set-up it
    names), and those numbers, each keyed by the word before it (`bs32` -> ("bs", "32")).
    Names without an LR in them have no shape: (None, ())."""
    pattern = _name_pattern(by)
    if not pattern.search(name):
        return None, ()
    rest = pattern.sub("", name)
    found = []
    for index, match in enumerate(_DIGITS.finditer(rest)):
        word = re.search(r"([A-Za-z]+)[^A-Za-z0-9]*$", rest[: match.start()])
        key = word.group(1) if word else f"#{index}"
        if any(key == seen for seen, _ in found):
            key = f"{key}{index}"
        found.append((key, _canonical(match.group())))
    return _DIGITS.sub("#", rest), tuple(found)


def _split_by_name_numbers(items: list, numbers: dict, options: SweepOptions) -> dict:
    """Split runs by a number in their names that takes several values, some in more than
    one run (`bs16`/`bs64` over a grid of LRs); a number with one value per run (a seed,
    a time stamp) is an identifier and splits nothing."""
    found = [numbers[id(item[0])] for item in items]
    keys = sorted({key for values in found for key in values})
    axes = []
    for key in keys:
        counts = Counter(values.get(key) for values in found)
        identifier = len(counts) == len(found)  # a seed, a time stamp: one value per run
        if len(counts) > 1 and not identifier:
            axes.append(key)
    split: dict[tuple, list] = defaultdict(list)
    for item, values in zip(items, found, strict=True):
        split[tuple((key, values[key]) for key in axes)].append(item)
    return split


def grid_points(values: Sequence[float], tolerance: float) -> dict[float, float]:
    """Each value -> the point of the grid it stands for: values within `tolerance` of each
    other (relative) are one point, such as LRs read from LR curves logged as float32 or
    peaking a step before the configured value. A point is its cluster's middle value."""
    ordered = sorted(set(values))
    clusters: list[list[float]] = []
    for value in ordered:
        if clusters and value <= clusters[-1][0] * (1 + tolerance):
            clusters[-1].append(value)
        else:
            clusters.append([value])
    return {value: cluster[len(cluster) // 2] for cluster in clusters for value in cluster}


def _is_grid(values: list[float], options: SweepOptions) -> bool:
    """At least `min_values` points, none holding more than `max_point_share` of the runs,
    spaced alike on a log scale (gaps within `max_spacing_ratio` of each other): a sweep
    spreads its runs over a grid; unrelated runs' LRs fall anywhere."""
    points = Counter(grid_points(values, options.same_lr_tolerance)[v] for v in values)
    if len(points) < options.min_values:
        return False
    gaps = np.diff(np.log(sorted(points)))
    return (
        max(points.values()) <= options.max_point_share * len(values)
        and gaps.max() <= options.max_spacing_ratio * gaps.min()
    )


def _coherent(members: list, options: SweepOptions) -> tuple[list, list]:
    """The runs that look like one set-up, and the others. Runs of one sweep share a step
    budget (a run that went NaN may stop early); unrelated runs that happen to share a
    folder rarely do. When nothing but the folder groups them (no shared param, LRs only
    from LR curves), their first logged losses must also agree: one model on one task
    starts from one loss."""
    lengths = {id(m): m.last_step for m, _, _ in members if m.last_step is not None}
    firsts = {id(m): m.first_loss for m, _, _ in members if m.first_loss is not None}
    keep = {id(member) for member, _, _ in members}
    keep -= _outliers(lengths, options.max_length_ratio)
    if _folder_only(members, options):
        keep -= _outliers(firsts, options.max_start_ratio)
    kept = [item for item in members if id(item[0]) in keep]
    return kept, [item for item in members if id(item[0]) not in keep]


def _outliers(values: dict[int, float], ratio: float) -> set[int]:
    """Keys whose value is more than `ratio` times off the median of all values."""
    if not values:
        return set()
    typical = float(np.median(list(values.values())))
    return {key for key, value in values.items() if not typical / ratio <= value <= typical * ratio}


def _folder_only(members: list, options: SweepOptions) -> bool:
    """Whether only the folder groups these runs: every LR read from an LR curve and no
    param with one value in two runs or more."""
    if any(where != "curve" for _, _, where in members):
        return False
    shared = Counter(item for run, _, _ in members for item in _other_params(run, options).items())
    return not any(count >= 2 for count in shared.values())


def _other_params(run: Run | Member, options: SweepOptions) -> dict[str, str]:
    ignored = set(options.ignore_params) - set(options.group_by)
    return {
        key: _canonical(value)
        for key, value in run.params.items()
        if not _is_swept_key(key, options.by) and key not in ignored
    }


def _canonical(value: str) -> str:
    """`32`, `32.0` and `3.2e1` are one value whichever writer wrote it."""
    number = positive_number(value)
    return f"{number:g}" if number is not None else str(value)
