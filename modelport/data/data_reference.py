"""v1's ``azureml.data.data_reference``: a place in a datastore (``DataReference``).

Example::

    from modelport.data.data_reference import DataReference
    blob_input = DataReference(datastore=ws.get_default_datastore(), data_reference_name="test_data",
                               path_on_datastore="titanic/Titanic.csv")
"""

from __future__ import annotations

from modelport.core.datastore import DataReference

__all__ = ["DataReference"]
