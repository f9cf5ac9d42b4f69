"""v1's "register and deploy a Spark model" notebook, imports renamed (issue 22, part 4).

The notebook deploys an iris ``LogisticRegressionModel`` with the ``AzureML-PySpark-MmlSpark-0.15``
curated environment and a ``score.py`` that starts a Spark session and loads the model in init().
Here the environment has PyPI's pyspark and the service's Spark runs on this machine's Java
runtime (``scripts/test.sh`` installs Debian's ``default-jre-headless`` where there is none); the
model is trained the v1 way too, by a script run in the same environment (Experiment.submit).
Without a Java runtime the deployment is refused with one line naming what is missing.

Cost, measured on 2 busy cores: the environment's first build downloads and installs pyspark
(~320 MB; ~1-2 min the first time on a machine, a few seconds from uv's cache after), training
~20 s (a JVM starts), deploying to Healthy ~15 s (another JVM); the test prints each figure.
"""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import pytest

from modelport.core import Environment, Experiment, ScriptRunConfig, Workspace
from modelport.core.model import InferenceConfig, Model
from modelport.core.webservice import AciWebservice
from modelport.exceptions import WebserviceException

pytestmark = pytest.mark.process

TRAIN = """
import os
from pyspark.sql import SparkSession
from pyspark.ml.classification import LogisticRegression
from pyspark.ml.feature import VectorAssembler

spark = SparkSession.builder.master("local[1]").appName("iris").getOrCreate()
df = spark.read.csv("iris.csv", header=True, inferSchema=True)
features = VectorAssembler(inputCols=["a", "b", "c", "d"], outputCol="features").transform(df)
model = LogisticRegression(maxIter=50, regParam=0.01).fit(features)
os.makedirs("outputs", exist_ok=True)
model.write().overwrite().save("outputs/iris.model")
print("trained, accuracy", model.summary.accuracy)
spark.stop()
"""

# The notebook's score.py, imports renamed.
SCORE = """
import traceback
from pyspark.ml.linalg import VectorUDT
from modelport.core.model import Model
from pyspark.ml.classification import LogisticRegressionModel
from pyspark.sql.types import StructType, StructField
from pyspark.sql.types import DoubleType
from pyspark.sql import SQLContext
from pyspark import SparkContext

sc = SparkContext.getOrCreate()
sqlContext = SQLContext(sc)
spark = sqlContext.sparkSession

input_schema = StructType([StructField("features", VectorUDT()), StructField("label", DoubleType())])
reader = spark.read
reader.schema(input_schema)


def init():
    global model
    # note here "iris.model" is the name of the model registered under the workspace
    # this call should return the path to the model.pkl file on the local disk.
    model_path = Model.get_model_path('iris.model')
    # Load the model file back into a LogisticRegression model
    model = LogisticRegressionModel.load(model_path)


def run(data):
    try:
        input_df = reader.json(sc.parallelize([data]))
        result = model.transform(input_df)
        # you can return any datatype as long as it is JSON-serializable
        return result.collect()[0]['prediction']
    except Exception as e:
        traceback.print_exc()
        error = str(e)
        return error
"""


@pytest.fixture
def ws(home: Path, tmp_path: Path, tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MODELPORT_ENV_CACHE", str(tmp_path_factory.getbasetemp() / "v1-env-cache"))
    return Workspace.create("spark-ws")


def test_pyspark_model_deployed_with_the_curated_environment(ws: Workspace) -> None:
    if shutil.which("java") is None:
        pytest.fail("no Java runtime: scripts/test.sh installs default-jre-headless (apt-get)")
    from sklearn.datasets import load_iris

    x, y = load_iris(return_X_y=True)
    Path("train").mkdir()
    rows = [
        "a,b,c,d,label",
        *(",".join([*map(str, row), str(float(label))]) for row, label in zip(x, y, strict=True)),
    ]
    Path("train/iris.csv").write_text("\n".join(rows) + "\n")
    Path("train/train.py").write_text(TRAIN)

    env = Environment.get(ws, name="AzureML-PySpark-MmlSpark-0.15")
    started = time.monotonic()
    run = Experiment(ws, "spark-iris").submit(
        ScriptRunConfig(source_directory="train", script="train.py", compute_target="local", environment=env)
    )
    run.wait_for_completion(show_output=True)
    trained = time.monotonic() - started
    model = run.register_model(model_name="iris.model", model_path="outputs/iris.model")

    # The notebook's cells.
    Path("score.py").write_text(SCORE)
    inference_config = InferenceConfig(entry_script="score.py", environment=env)
    deployment_config = AciWebservice.deploy_configuration(cpu_cores=1, memory_gb=1)
    started = time.monotonic()
    service = Model.deploy(ws, "aciservice1", [model], inference_config, deployment_config)
    service.wait_for_deployment(True)
    deployed = time.monotonic() - started
    print(service.state)
    try:
        test_sample = json.dumps({"features": {"type": 1, "values": [4.3, 3.0, 1.1, 0.1]}, "label": 2.0})
        test_sample_encoded = bytes(test_sample, encoding="utf8")
        prediction = service.run(input_data=test_sample_encoded)
        print(prediction)
        assert prediction == 0.0  # a setosa
        virginica = json.dumps({"features": {"type": 1, "values": [7.7, 3.0, 6.1, 2.3]}, "label": 2.0})
        assert service.run(input_data=virginica) == 2.0
    finally:
        service.delete()
    print(f"spark figures: environment + training {trained:.1f} s, deploy to Healthy {deployed:.1f} s")


def test_without_a_java_runtime_it_is_refused_in_one_line(
    ws: Workspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A PATH with this Python's tools but no java, and no JAVA_HOME.
    no_java = tmp_path / "bin"
    no_java.mkdir()
    monkeypatch.setenv("PATH", str(no_java))
    monkeypatch.delenv("JAVA_HOME", raising=False)
    Path("score.py").write_text(SCORE)
    Path("iris.model").mkdir()
    (Path("iris.model") / "metadata").write_text("{}")
    model = Model.register(ws, model_path="iris.model", model_name="iris.model")
    env = Environment.get(ws, name="AzureML-PySpark-MmlSpark-0.15")
    service = Model.deploy(
        ws,
        "no-java",
        [model],
        InferenceConfig(entry_script="score.py", environment=env),
        AciWebservice.deploy_configuration(cpu_cores=1, memory_gb=1),
    )
    with pytest.raises(WebserviceException) as caught:
        service.wait_for_deployment()
    first = str(caught.value).splitlines()[0]
    print(first)
    assert "pyspark needs a Java runtime, and there is none (no java on PATH and JAVA_HOME is unset)" in first
    assert "apt-get install default-jre-headless" in first and "Traceback" not in str(caught.value)
