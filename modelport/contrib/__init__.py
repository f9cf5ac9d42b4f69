"""v1's ``azureml.contrib`` namespace: only what scoring scripts import (``services``)."""
