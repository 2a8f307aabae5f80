"""The driver JVM that scripts/spark-submit starts maps the class-data-sharing archive that
`python -m services up` builds (services/jvm_archive.py)."""
from __future__ import annotations

import os
import subprocess

import pytest

from core.config import PROJECT_ROOT
from services.jvm_archive import archive_is_current, ensure_jvm_archive

pytestmark = pytest.mark.integration

SESSION_ONLY = "from core.spark import build_spark_session\nfrom core.config import load_config\n" \
               "build_spark_session(load_config(), 'archive-check').stop()\n"


def test_spark_submit_gives_the_driver_the_archive(local_services, tmp_path):
    ensure_jvm_archive(local_services)  # built by `make services-up` already, unless run without it
    assert archive_is_current()
    app = tmp_path / "session_only.py"
    app.write_text(SESSION_ONLY)
    result = subprocess.run([str(PROJECT_ROOT / "scripts" / "spark-submit"), str(app)], cwd=PROJECT_ROOT,
                            env={**os.environ, "SPARK_SUBMIT_OPTS": "-Xlog:cds=info"}, capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Unable to use shared archive" not in result.stdout, result.stdout[-3000:]
    assert "Mapped dynamic region" in result.stdout, result.stdout[-3000:]
