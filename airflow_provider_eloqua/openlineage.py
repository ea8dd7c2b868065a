"""OpenLineage for the import operators: the file read (or nothing for rows passed as ``data``) in,
the Eloqua entity out.

Airflow's OpenLineage provider (the ``openlineage`` extra) calls an operator's
``get_openlineage_facets_on_complete``; the operators import this module only there, so the
provider works without OpenLineage installed. The output dataset is the one the ``eloqua://``
Asset converts to (namespace ``eloqua://<site>``, name ``contacts`` or ``customObjects/12``), so
Assets and lineage name an entity alike.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from airflow_provider_eloqua import assets, urls
from airflow_provider_eloqua.storage import as_path

if TYPE_CHECKING:
    from airflow.providers.common.compat.openlineage.facet import Dataset
    from airflow.providers.openlineage.extractors import OperatorLineage


def file_dataset(path: Any) -> Dataset:
    """A local path or ObjectStoragePath (or its URL) as an OpenLineage dataset, named as Airflow's
    own file-transfer operator names them: ``file`` + absolute path, or ``s3://bucket`` + key."""
    from airflow.providers.common.compat.openlineage.facet import Dataset

    target = as_path(path)
    if isinstance(target, Path):
        return Dataset(namespace="file", name=str(target.resolve()))
    return Dataset(namespace=target.namespace, name=target.key)


def entity_dataset(site: str, definition_uri: str | None, entity: str | None, parent_id: Any) -> Dataset | None:
    """The Eloqua entity a load writes; None for a sync-action definition."""
    if definition_uri:
        asset = assets.asset_for_definition(site, definition_uri)
    elif entity:
        asset = assets.eloqua_asset(site, entity, parent_id)
    else:
        return None
    return assets.convert_asset_to_openlineage(asset, None) if asset else None


def import_lineage(operator: Any) -> OperatorLineage:
    """Inputs and outputs of an import operator after its run (templates rendered).

    :param operator: an EloquaImportOperator or EloquaUploadDataOperator, after ``execute``.
    """
    from airflow.providers.openlineage.extractors import OperatorLineage

    definition_uri = getattr(operator, "definition_uri", None)
    if definition_uri:
        definition_uri = urls.parse_definition_uri(str(definition_uri)).uri
    output = entity_dataset(
        operator.hook.settings.site,
        definition_uri,
        getattr(operator, "entity", None),
        getattr(operator, "parent_id", None),
    )
    return OperatorLineage(
        inputs=[file_dataset(operator.path)] if operator.path is not None else [],
        outputs=[output] if output else [],
    )


def export_lineage(operator: Any) -> OperatorLineage:
    """Inputs and outputs of an export operator after its run: the Eloqua entity in, the file out.

    :param operator: an EloquaExportOperator, after ``execute``.
    """
    from airflow.providers.openlineage.extractors import OperatorLineage

    entity, parent_id = operator.entity, operator.parent_id
    if operator.definition_uri:
        parsed = urls.parse_definition_uri(str(operator.definition_uri))
        entity, parent_id = parsed.entity, parsed.parent_id
    source = assets.convert_asset_to_openlineage(
        assets.eloqua_asset(operator.hook.settings.site, entity, parent_id), None
    )
    return OperatorLineage(inputs=[source], outputs=[file_dataset(operator.path)])
