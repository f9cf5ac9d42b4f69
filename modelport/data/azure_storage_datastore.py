"""v1's ``azureml.data.azure_storage_datastore``: the classes of the datastores v1's
``Datastore.get`` returned.

A local workspace's datastores are folders, so one class serves for both kinds:
``AzureBlobDatastore`` and ``AzureFileDatastore`` are :class:`~modelport.core.datastore.Datastore`
(``datastore_type`` says which v1 kind it stands for, ``endpoint`` where its folder is).

Example::

    ds = ws.get_default_datastore()
    ds.datastore_type, ds.container_name, ds.protocol, ds.endpoint
    # ('AzureBlob', 'workspaceblobstore', 'file', 'file:///home/me/.modelport/demo/datastores/...')
"""

from __future__ import annotations

from modelport.core.datastore import Datastore

__all__ = ["AbstractAzureStorageDatastore", "AzureBlobDatastore", "AzureFileDatastore"]

AbstractAzureStorageDatastore = Datastore
AzureBlobDatastore = Datastore
AzureFileDatastore = Datastore
