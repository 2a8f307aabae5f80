"""Create this demo run's topics and delete those of earlier demo runs (local broker only)."""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from confluent_kafka.admin import AdminClient  # noqa: E402

from core.config import load_config  # noqa: E402
from services.topics import ensure_topics  # noqa: E402


def main(run: str) -> int:
    config = load_config()
    admin = AdminClient(config.kafka.client_settings())
    old = [t for t in admin.list_topics(timeout=10).topics
           if t.startswith(("payments-demo", "labels-demo")) and not t.endswith(run)]
    if old:
        for future in admin.delete_topics(old).values():
            future.result()
    ensure_topics(config.kafka, [f"payments-{run}", f"labels-{run}"])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
