"""Register models, point aliases, read versions back (the names live in mediumnet.names).

Every model mediumnet keeps is registered as ``mediumnet-<kind>``: each Keras branch of the
registry (:mod:`mediumnet.branches`) and the ensemble; a version's tags say which data, code
and settings produced it, and, for the ensemble, which branch versions it was built from. The
alias :data:`CHAMPION` marks the version to serve.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from mediumnet.errors import MediumnetError
from mediumnet.names import CHAMPION, ENSEMBLE, ENSEMBLE_MODEL

if TYPE_CHECKING:
    from mlflow.entities.model_registry import ModelVersion

__all__ = ["CHAMPION", "model_name", "model_names", "model_uri", "register", "set_alias",
           "set_version_tag", "version_by_alias"]


def model_names() -> dict[str, str]:
    """Return every model kind mediumnet registers → its registered name."""
    from mediumnet.branches import keras_branches

    return {**{b.name: b.model_name for b in keras_branches()}, ENSEMBLE: ENSEMBLE_MODEL}


def model_name(kind: str) -> str:
    """Return the registered name of a model kind (a Keras branch, or ``ensemble``).

    Raises
    ------
    MediumnetError
        If ``kind`` is unknown.
    """
    names = model_names()
    try:
        return names[kind]
    except KeyError:
        raise MediumnetError(
            f"unknown model kind {kind!r}: choose one of {', '.join(names)}"
        ) from None


def model_uri(kind: str, alias: str | None = CHAMPION, version: int | None = None) -> str:
    """Return the ``models:/`` URI of a model kind, by alias or version.

    Examples
    --------
    >>> model_uri("ensemble")
    'models:/mediumnet-ensemble@champion'
    >>> model_uri("texture", version=3)
    'models:/mediumnet-texture/3'
    """
    name = model_name(kind)
    if version is not None:
        return f"models:/{name}/{version}"
    return f"models:/{name}@{alias}"


def register(source_uri: str, kind: str, *, tags: Mapping[str, str] | None = None,
             alias: str | None = None) -> ModelVersion:
    """Register a logged model as a new version of ``kind``, with lineage tags.

    Parameters
    ----------
    source_uri : str
        The logged model (``runs:/<run_id>/<path>`` or ``models:/m-…``).
    kind : str
        A Keras branch or ``ensemble`` (:func:`model_names`).
    tags : mapping, optional
        Lineage tags set on the version (dataset digest, git commit, config, branch versions).
    alias : str, optional
        Point this alias (e.g. :data:`CHAMPION`) at the new version.

    Returns
    -------
    mlflow.entities.model_registry.ModelVersion
    """
    import mlflow
    from mlflow import MlflowClient

    name = model_name(kind)
    version = mlflow.register_model(source_uri, name, tags=dict(tags or {}))
    if alias:
        MlflowClient().set_registered_model_alias(name, alias, version.version)
    return version


def set_alias(kind: str, alias: str, version: int | str) -> None:
    """Point ``alias`` of model ``kind`` at ``version``."""
    from mlflow import MlflowClient

    MlflowClient().set_registered_model_alias(model_name(kind), alias, str(version))


def set_version_tag(kind: str, version: int | str, key: str, value: str) -> None:
    """Set a tag on one version of model ``kind``."""
    from mlflow import MlflowClient

    MlflowClient().set_model_version_tag(model_name(kind), str(version), key, value)


def version_by_alias(kind: str, alias: str = CHAMPION) -> ModelVersion:
    """Return the version that ``alias`` of model ``kind`` points at.

    Raises
    ------
    MediumnetError
        If the model or the alias does not exist.
    """
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    name = model_name(kind)
    try:
        return MlflowClient().get_model_version_by_alias(name, alias)
    except MlflowException:
        raise MediumnetError(
            f"no version of {name} has the alias {alias!r}: train and register one first"
        ) from None
