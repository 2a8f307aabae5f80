"""The one SparkSession builder used by every job and test."""
from __future__ import annotations

import os
import sys
import tempfile
import zipfile
from collections.abc import Mapping
from pathlib import Path

from pyspark import SparkConf, SparkContext
from pyspark.sql import SparkSession

from core.config import PROJECT_ROOT, AppConfig

SPARK_JARS_DIR = PROJECT_ROOT / ".deps" / "spark-jars"
ROCKSDB_PROVIDER = "org.apache.spark.sql.execution.streaming.state.RocksDBStateStoreProvider"
# UTC, and JIT-compile Spark's large generated methods (the JVM leaves methods over 8 kB of
# bytecode interpreted; the parse's are larger). scripts/spark-submit passes the same.
JVM_OPTIONS = "-Duser.timezone=UTC -XX:-DontCompileHugeMethods"
ARROW_BATCH_ROWS = 10_000
# Local files (a local checkpoint) through Hadoop's local file system without its shell calls
# (java/local-files): without Hadoop's native library it runs chmod for every file it creates and
# readlink for every rename, about 140 process launches of the JVM a micro-batch. Spark writes
# the offset and commit logs through FileContext, without checksum side files; the state
# store's files through the FileSystem API (RocksDB's checkpointing needs a LocalFileSystem).
LOCAL_FILES = {
    "spark.hadoop.fs.AbstractFileSystem.file.impl": "io.github.payscore.hadoop.NioRawLocalFs",
    "spark.hadoop.fs.file.impl": "io.github.payscore.hadoop.NioLocalFileSystem",
}
LOCAL_FILES_JAR = SPARK_JARS_DIR / "payscore-local-files.jar"  # on the JVMs' class path, not in spark.jars


def local_jars() -> list[Path]:
    """The Kafka connector and JDBC drivers resolved by Maven (make setup)."""
    return sorted(SPARK_JARS_DIR.glob("*.jar"))


def session_settings(config: AppConfig) -> dict[str, str]:
    """Spark settings the product relies on, whatever the master."""
    return {
        "spark.sql.session.timeZone": "UTC",
        "spark.executor.extraJavaOptions": JVM_OPTIONS,
        "spark.driver.extraJavaOptions": JVM_OPTIONS,
        "spark.sql.shuffle.partitions": str(config.stream.shuffle_partitions),
        # The velocity state (features/velocity.py): RocksDB, each micro-batch's changes written
        # as a changelog beside the checkpoint (a full snapshot now and then, in the background).
        "spark.sql.streaming.stateStore.providerClass": ROCKSDB_PROVIDER,
        "spark.sql.streaming.stateStore.rocksdb.changelogCheckpointing.enabled": "true",
        # Counting the store's rows costs a read before every write; the state's size is
        # measured by its files instead (bench/state_scale.py).
        "spark.sql.streaming.stateStore.rocksdb.trackTotalNumberOfRows": "false",
        # Timestamps reach the operators as java.time.Instant, not java.sql.Timestamp (which
        # rebases every value between calendars).
        "spark.sql.datetime.java8API.enabled": "true",
        "spark.sql.execution.arrow.pyspark.enabled": "true",
        # Rows per Arrow batch to and from the Python workers: at 10,000 the scoring UDF works on
        # the next batch while the JDBC writer waits on MySQL (measured, 1M preloaded: 15.5-16.8k
        # tx/s end to end at 100,000; 20.8k at 10,000; 18.5k at 5,000).
        "spark.sql.execution.arrow.maxRecordsPerBatch": str(ARROW_BATCH_ROWS),
        # A frame cached once (the benchmark's stages) is read once: compressing it costs more than it saves.
        "spark.sql.inMemoryColumnarStorage.compressed": "false",
        "spark.sql.adaptive.enabled": "false",
        "spark.ui.enabled": str(config.spark.ui_enabled).lower(),
        "spark.ui.showConsoleProgress": "false",
        "spark.driver.memory": config.spark.driver_memory,
        # Secrets never shown in the UI, event logs or plans: conf values by key, and the Kafka
        # source's and sink's options (kafka.sasl.jaas.config holds the SASL password).
        "spark.redaction.regex": "(?i)secret|password|token|access[.]?key|jaas",
        "spark.sql.redaction.options.regex": "(?i)url|secret|password|token|jaas",
    }


def build_spark_session(config: AppConfig, app_name: str,
                        overrides: Mapping[str, str] | None = None) -> SparkSession:
    """local[*] unless spark-submit gave --master; local jars; workers on this interpreter."""
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    _put_project_on_worker_path()
    launched_conf = _launched_conf()
    builder = SparkSession.builder.appName(app_name)
    if not launched_conf.contains("spark.master"):
        builder = builder.master(config.spark.master)
    jars = ",".join(str(jar) for jar in local_jars())
    if jars and not launched_conf.contains("spark.jars"):
        builder = builder.config("spark.jars", jars)
    settings = {**session_settings(config), **local_files_settings(config, launched_conf), **(overrides or {})}
    for key, value in settings.items():
        builder = builder.config(key, value)
    spark = builder.getOrCreate()
    _force_driver_utc(spark)
    if not spark.sparkContext.master.startswith("local"):
        ship_project_code(spark)
    return spark


def local_files_settings(config: AppConfig, launched_conf: SparkConf) -> dict[str, str]:
    """LOCAL_FILES for a local checkpoint, when the JVMs can load them: Hadoop loads a file system
    class from the JVM's own class path, so a session started from Python puts the jar there,
    and scripts/spark-submit does (--driver-class-path). Otherwise Hadoop's default stays."""
    if not isinstance(config.stream.checkpoint_location, Path) or not LOCAL_FILES_JAR.exists():
        return {}
    if os.environ.get("PYSPARK_GATEWAY_PORT"):  # under spark-submit: the JVM is up, its class path set
        launched = launched_conf.get("spark.driver.extraClassPath", "")
        return LOCAL_FILES if str(LOCAL_FILES_JAR) in launched.split(os.pathsep) else {}
    return {**LOCAL_FILES, "spark.driver.extraClassPath": str(LOCAL_FILES_JAR),
            "spark.executor.extraClassPath": str(LOCAL_FILES_JAR)}


PROJECT_PACKAGES_SKIPPED = {"tests", "bench", "scripts", "jobs", "training", "generator", "producer", "services"}


def ship_project_code(spark: SparkSession) -> Path:
    """On a cluster, executors' Python workers import the project's packages (UDFs, schemas,
    the sink's functions) from a zip that Spark sends them."""
    target = Path(tempfile.mkdtemp(prefix="payscore-code-")) / "payscore_code.zip"
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as archive:
        for package in sorted(PROJECT_ROOT.glob("*/__init__.py")):
            if package.parent.name in PROJECT_PACKAGES_SKIPPED:
                continue
            for source in sorted(package.parent.rglob("*.py")):
                archive.write(source, source.relative_to(PROJECT_ROOT))
    spark.sparkContext.addPyFile(str(target))
    return target


def _launched_conf() -> SparkConf:
    """What spark-submit was given (--master, --jars, --conf ...). Under spark-submit the JVM
    is already up: connect to it first, or SparkConf() would not see its settings."""
    if os.environ.get("PYSPARK_GATEWAY_PORT"):
        SparkContext._ensure_initialized()  # noqa: SLF001 - connects to spark-submit's JVM
    return SparkConf()


def _put_project_on_worker_path() -> None:
    """Python workers import the project's packages (UDFs, schemas) from the repository root."""
    paths = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    if str(PROJECT_ROOT) not in paths:
        os.environ["PYTHONPATH"] = os.pathsep.join([str(PROJECT_ROOT), *paths])


def _force_driver_utc(spark: SparkSession) -> None:
    """JDBC converts timestamps in the JVM's zone; under spark-submit the JVM predates our conf."""
    jvm = spark.sparkContext._jvm
    if jvm.java.util.TimeZone.getDefault().getID() != "UTC":
        jvm.java.util.TimeZone.setDefault(jvm.java.util.TimeZone.getTimeZone("UTC"))
