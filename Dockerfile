# The scoring job and the dashboard with their Python packages and Maven-resolved jars (docker-compose.yml).
FROM debian:bookworm-slim
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      python3 python3-venv openjdk-17-jdk-headless maven ca-certificates procps \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY requirements.txt ./
COPY java ./java
COPY scripts ./scripts
RUN PAYSCORE_SKIP_MARIADB=1 PAYSCORE_SKIP_CHROMIUM=1 scripts/bootstrap.sh && rm -rf /root/.m2
COPY . .
ENV TZ=UTC
# Topics, migrations and grants are the `migrate` service's (it alone holds the admin password).
CMD ["scripts/spark-submit", "jobs/score_payments.py"]
