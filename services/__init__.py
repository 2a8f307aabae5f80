"""Local development services (Kafka broker, MariaDB) run as plain processes under state/."""
