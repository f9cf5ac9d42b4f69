"""``azmlinfsrv`` bound to 127.0.0.1: same arguments, run with the azmlinfsrv venv's python.

azureml-inference-server-http 1.5.1 always binds ``DEFAULT_HOST`` ("0.0.0.0", from its
``constants``) and has no option to change it. ``amlserver.run()`` reads the name from its own
module globals (``from .constants import *``) when it builds gunicorn's ``-b host:port``, so setting
it in both modules before ``run()`` is the whole change. Nothing else in the server is touched.
"""

import sys

from azureml_inference_server_http import amlserver, constants

LOCALHOST = "127.0.0.1"

if __name__ == "__main__":
    constants.DEFAULT_HOST = LOCALHOST
    amlserver.DEFAULT_HOST = LOCALHOST
    sys.exit(amlserver.run())
