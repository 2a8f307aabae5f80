"""When `python -m services up` builds the driver JVM's class-data-sharing archive again."""
from __future__ import annotations

import os

from services.jvm_archive import archive_is_current, covered_jars


def test_the_archive_covers_spark_and_the_project_jars():
    names = {jar.name for jar in covered_jars()}
    assert any(name.startswith("spark-sql_2.13") for name in names)
    assert any(name.startswith("spark-sql-kafka-0-10_2.13") for name in names)
    assert "payscore-velocity-state.jar" in names


def test_an_archive_older_than_a_jar_it_covers_is_built_again(tmp_path):
    archive = tmp_path / "spark-driver.jsa"
    assert not archive_is_current(archive)
    archive.write_bytes(b"archive")
    assert archive_is_current(archive)
    oldest_jar = min(jar.stat().st_mtime for jar in covered_jars())
    os.utime(archive, (oldest_jar - 1, oldest_jar - 1))
    assert not archive_is_current(archive)
