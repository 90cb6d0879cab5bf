#!/usr/bin/env bash
# setup-kafka.sh: installs Apache Kafka's jars (broker in KRaft mode) from Maven
# Central into ${ATTND_CACHE:-<repo>/.cache}/kafka/<version>/libs. Idempotent:
# a complete install (marker file .complete) is left as it is.
# Needs: java (17+) and mvn. Prints the libs directory on stdout.
set -euo pipefail
KAFKA_VERSION="${KAFKA_VERSION:-3.9.1}"
SCALA_VERSION="${SCALA_VERSION:-2.13}"
repo="$(cd "$(dirname "$0")/.." && pwd)"
cache="${ATTND_CACHE:-$repo/.cache}"
dest="$cache/kafka/$KAFKA_VERSION"
libs="$dest/libs"

if [ -f "$dest/.complete" ] && ls "$libs"/kafka_"$SCALA_VERSION"-*.jar >/dev/null 2>&1; then
  echo "$libs"
  exit 0
fi
command -v java >/dev/null || { echo "setup-kafka: java not found (apt-get install -y openjdk-17-jre-headless)" >&2; exit 1; }
command -v mvn >/dev/null || { echo "setup-kafka: mvn not found (apt-get install -y maven)" >&2; exit 1; }

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cat > "$work/pom.xml" <<POM
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>attnd.local</groupId>
  <artifactId>kafka-jars</artifactId>
  <version>1</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka_${SCALA_VERSION}</artifactId><version>${KAFKA_VERSION}</version></dependency>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka-server</artifactId><version>${KAFKA_VERSION}</version></dependency>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka-tools</artifactId><version>${KAFKA_VERSION}</version></dependency>
    <dependency><groupId>org.slf4j</groupId><artifactId>slf4j-reload4j</artifactId><version>1.7.36</version></dependency>
    <dependency><groupId>ch.qos.reload4j</groupId><artifactId>reload4j</artifactId><version>1.2.25</version></dependency>
  </dependencies>
</project>
POM
mkdir -p "$libs"
echo "setup-kafka: fetching kafka_${SCALA_VERSION} ${KAFKA_VERSION} and its dependencies from Maven Central" >&2
mvn -q -B -f "$work/pom.xml" dependency:copy-dependencies \
  -DincludeScope=runtime -DoutputDirectory="$libs" >&2
ls "$libs"/kafka_"$SCALA_VERSION"-"$KAFKA_VERSION".jar >/dev/null
cat > "$dest/log4j.properties" <<'L4J'
log4j.rootLogger=WARN, stdout
log4j.appender.stdout=org.apache.log4j.ConsoleAppender
log4j.appender.stdout.layout=org.apache.log4j.PatternLayout
log4j.appender.stdout.layout.ConversionPattern=[%d] %p %m (%c)%n
log4j.logger.kafka=WARN
log4j.logger.org.apache.kafka=WARN
L4J
touch "$dest/.complete"
echo "$libs"
