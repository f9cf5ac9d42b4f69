import os

from modelport.core.model import Model


def init():
    pass


def run(raw_data):
    return {
        "model_dir": os.environ["AZUREML_MODEL_DIR"],
        "same": os.environ["MODELPORT_MODEL_DIR"] == os.environ["AZUREML_MODEL_DIR"],
        "app_root": os.environ["AML_APP_ROOT"],
        "digits": Model.get_model_path("sklearn_mnist"),
        "other_v1": Model.get_model_path("other", version=1),
        "other_latest": Model.get_model_path("other"),
    }
