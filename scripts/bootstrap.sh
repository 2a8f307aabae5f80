#!/usr/bin/env bash
# Install what the project needs, project-locally; quick when everything is already there.
#   .venv/          Python packages from requirements.txt
#   .deps/          Java jars resolved by Maven from java/pom.xml
#   mariadb-server  from Debian's packages, if absent (needs root or sudo)
#   chromium        from Debian's packages, if absent: the dashboard's browser test and benchmark
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
say() { printf '\033[1m[setup]\033[0m %s\n' "$*"; }
fail() { printf '\033[31m[setup] %s\033[0m\n' "$*" >&2; exit 1; }

check_tools() {
  command -v python3 >/dev/null || fail "python3 not found (Python 3.11 is needed)"
  python3 -c 'import sys; sys.exit(sys.version_info[:2] < (3, 10))' \
    || fail "Python $(python3 -V) is too old; 3.10+ is needed (3.11 tested)"
  command -v java >/dev/null || fail "java not found; install OpenJDK 17 (apt-get install openjdk-17-jdk-headless)"
  local major
  major=$(java -version 2>&1 | sed -nE 's/.*version "([0-9]+).*/\1/p' | head -1)
  [ "${major:-0}" -ge 17 ] || fail "Java $major found; Spark 4 and Kafka 4 need Java 17 or 21"
  command -v mvn >/dev/null || fail "mvn not found; install Maven (apt-get install maven)"
}

install_mariadb() {
  [ -z "${PAYSCORE_SKIP_MARIADB:-}" ] || return 0   # images that talk to an external MySQL
  if command -v mariadbd >/dev/null || [ -x /usr/sbin/mariadbd ]; then return; fi
  say "installing MariaDB from Debian's packages"
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq mariadb-server mariadb-client >/dev/null
  # The package may start a system instance; the project runs its own on its own datadir.
  $sudo service mariadb stop >/dev/null 2>&1 || true
}

install_chromium() {
  [ -z "${PAYSCORE_SKIP_CHROMIUM:-}" ] || return 0   # images that never run the browser test
  if command -v chromium >/dev/null; then return; fi
  say "installing Chromium from Debian's packages (the dashboard's browser test)"
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq chromium >/dev/null
}

install_python() {
  local stamp=.venv/.requirements.sha256 want
  want=$(sha256sum requirements.txt | cut -d' ' -f1)
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then return; fi
  [ -x .venv/bin/python ] || { say "creating .venv"; python3 -m venv .venv; }
  say "installing Python packages (requirements.txt)"
  .venv/bin/python -m pip install -q --upgrade pip
  .venv/bin/python -m pip install -q -r requirements.txt
  echo "$want" > "$stamp"
}

install_jars() {
  local stamp=.deps/.poms.sha256 want
  want=$(cat java/pom.xml java/*/pom.xml java/settings.xml | sha256sum | cut -d' ' -f1)
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then return; fi
  say "resolving Java dependencies with Maven into .deps/"
  rm -rf .deps
  mvn -q -B -s java/settings.xml -f java/pom.xml package
  prune_jars_pyspark_ships
  mkdir -p .deps && echo "$want" > "$stamp"
}

# The project's Spark extensions, each compiled against the installed pyspark's own jars, so
# it always matches the Spark that loads it: java/<module>/src -> .deps/spark-jars/payscore-<module>.jar
#   jdbc-sink:      a batch's rows appended to their tables in one pass (sinks/jdbc.py)
#   velocity-state: the stateful feature operators, transformWithState (features/velocity.py)
#   local-files:    Hadoop's local file system without its shell calls (core/spark.py)
build_spark_extension() {
  local module=$1 jars source stamp want out
  jars=$(.venv/bin/python -c 'import pyspark, os; print(os.path.join(os.path.dirname(pyspark.__file__), "jars"))')
  source=$(find "java/$module/src" -name '*.java' | sort)
  stamp=".deps/.$module.sha256"
  want=$( (cat $source; ls "$jars" | grep -E '^(spark-sql_|spark-sql-api_|hadoop-client-api)') | sha256sum | cut -d' ' -f1)
  out=".deps/spark-jars/payscore-$module.jar"
  if [ -f "$stamp" ] && [ -f "$out" ] && [ "$(cat "$stamp")" = "$want" ]; then return; fi
  say "compiling the Spark extension java/$module"
  local classes
  classes=$(mktemp -d)
  javac -proc:none --release 17 -nowarn -d "$classes" -cp "$jars/*" $source
  mkdir -p .deps/spark-jars
  jar cf "$out" -C "$classes" .
  rm -rf "$classes"
  echo "$want" > "$stamp"
}

# Spark's own jars win: drop a connector dependency that pyspark already ships (any version).
prune_jars_pyspark_ships() {
  local shipped
  shipped=$(.venv/bin/python -c 'import pyspark, os; print(os.path.join(os.path.dirname(pyspark.__file__), "jars"))')
  for jar in .deps/spark-jars/*.jar; do
    local name
    name=$(basename "$jar" | sed -E 's/-[0-9][0-9A-Za-z.+-]*\.jar$//')
    if ls "$shipped/$name"-[0-9]*.jar >/dev/null 2>&1; then rm -f "$jar"; fi
  done
}

report_versions() {
  local pyspark connector
  pyspark=$(.venv/bin/python -c 'import pyspark; print(pyspark.__version__)')
  connector=$(ls .deps/spark-jars/ | sed -nE 's/^spark-sql-kafka-0-10_2\.13-(.*)\.jar$/\1/p')
  [ -n "$connector" ] || fail "Spark's Kafka connector is missing from .deps/spark-jars"
  if [ "$pyspark" != "$connector" ]; then
    say "note: pyspark $pyspark runs with Spark's Kafka connector $connector, the newest on Maven Central" \
        "(see README, 'Versions'); set spark.version in java/pom.xml when $pyspark is published"
  fi
}

check_tools
install_mariadb
install_chromium
install_python
install_jars
build_spark_extension jdbc-sink
build_spark_extension velocity-state
build_spark_extension local-files
report_versions
say "ready"
