"""Open datasets, like v1's ``azureml.opendatasets``: for now, MNIST.

The MNIST files ship inside modelport, so the tutorial's download works offline::

    from modelport.opendatasets import MNIST

    paths = MNIST.get_file_dataset().download("data", overwrite=True)
    # data/mnist/train-images-idx3-ubyte.gz, ..., each verified by sha256

Set ``MODELPORT_MNIST_URL`` (or pass ``source_url=``) to fetch the files from a mirror instead.
"""

from __future__ import annotations

from modelport.opendatasets._filedataset import DatasetFile, FileDataset
from modelport.opendatasets._mnist import MNIST, MNIST_URL_ENV

__all__ = ["MNIST", "MNIST_URL_ENV", "DatasetFile", "FileDataset"]
