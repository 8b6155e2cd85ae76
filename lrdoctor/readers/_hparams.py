"""The `hparams.yaml` Lightning writes beside its logs (CSVLogger and TensorBoardLogger alike).

Its values become `Run.params`, so remedies can quote the learning rate and batch size.
"""

from __future__ import annotations

from pathlib import Path

import yaml

HPARAMS_FILE = "hparams.yaml"


class _LenientLoader(yaml.SafeLoader):
    """A safe loader that reads tags it does not know (Lightning writes `!!python/tuple`)
    as the plain list, mapping or string underneath, instead of refusing the file."""


def _construct_plain(loader: _LenientLoader, tag_suffix: str, node: yaml.Node) -> object:
    if isinstance(node, yaml.SequenceNode):
        return loader.construct_sequence(node, deep=True)
    if isinstance(node, yaml.MappingNode):
        return loader.construct_mapping(node, deep=True)
    return loader.construct_scalar(node)


_LenientLoader.add_multi_constructor("", _construct_plain)


def read_hparams_beside(folder: Path) -> tuple[dict[str, str], list[str]]:
    """(params, warnings) from `folder/hparams.yaml`; nothing when there is no such file."""
    hparams_path = folder / HPARAMS_FILE
    if not hparams_path.is_file():
        return {}, []
    try:
        loaded = yaml.load(hparams_path.read_text(encoding="utf-8"), Loader=_LenientLoader)
    except (OSError, UnicodeDecodeError, yaml.YAMLError, TypeError) as error:
        return {}, [f"{HPARAMS_FILE} beside the log could not be parsed ({error})"]
    if loaded is None:
        return {}, []
    if not isinstance(loaded, dict):
        return {}, [f"{HPARAMS_FILE} beside the log is not a mapping; ignored"]
    return _flatten(loaded), []


def _flatten(mapping: dict, prefix: str = "") -> dict[str, str]:
    """Nested hyperparameters as `outer.inner` keys with text values, as MLflow shows them."""
    flat: dict[str, str] = {}
    for key, value in mapping.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(_flatten(value, f"{name}."))
        else:
            flat[name] = str(value)
    return flat
