from __future__ import annotations

import os
import sys

from core.spark import ROCKSDB_PROVIDER, local_jars


def test_session_has_the_settings_the_product_relies_on(spark):
    conf = spark.conf
    assert conf.get("spark.sql.session.timeZone") == "UTC"
    assert conf.get("spark.sql.streaming.stateStore.providerClass") == ROCKSDB_PROVIDER
    assert conf.get("spark.ui.enabled") == "false"
    assert spark.sparkContext._jvm.java.util.TimeZone.getDefault().getID() == "UTC"


def test_workers_run_the_project_interpreter_and_find_the_jars(spark):
    assert os.environ["PYSPARK_PYTHON"] == sys.executable
    jars = spark.sparkContext.getConf().get("spark.jars")
    assert any("spark-sql-kafka" in jar.name for jar in local_jars())
    assert "spark-sql-kafka" in jars and "mariadb-java-client" in jars
    worker_python = spark.sparkContext.parallelize([0], 1).map(lambda _: __import__("sys").executable).first()
    assert worker_python == sys.executable
