#!/usr/bin/env bash
# Copies the Apache Kafka broker jars (kafka_2.13 and its runtime dependencies, see kafka/pom.xml) from Maven
# Central into .cache/kafka/libs, where tests/infra/kafka.py runs them with the machine's Java 17.
# Idempotent: does nothing when the jars are already there. Prints the directory on stdout.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
libs="${REGAUDIT_KAFKA_LIBS:-$repo/.cache/kafka/libs}"

if compgen -G "$libs/kafka_2.13-*.jar" >/dev/null && compgen -G "$libs/kafka-clients-*.jar" >/dev/null; then
    echo "$libs"
    exit 0
fi

command -v mvn >/dev/null || { echo "install-kafka: mvn not found (Maven 3.8+ is needed)" >&2; exit 1; }
command -v java >/dev/null || { echo "install-kafka: java not found (Java 17 is needed)" >&2; exit 1; }

# Copy into a fresh directory, then move it into place, so an interrupted run never looks complete.
mkdir -p "$(dirname "$libs")"
staging="$(mktemp -d "$(dirname "$libs")/libs.partial.XXXXXX")"
trap 'rm -rf "$staging"' EXIT
# Maven 3.8 prints stray colour codes even with -q: keep its output, show it only on failure.
if ! mvn -q -B -Dstyle.color=never -f "$repo/.ci/kafka/pom.xml" dependency:copy-dependencies \
    -DincludeScope=runtime -DoutputDirectory="$staging" >"$staging.log" 2>&1; then
    cat "$staging.log" >&2
    rm -f "$staging.log"
    echo "install-kafka: mvn dependency:copy-dependencies failed" >&2
    exit 1
fi
rm -f "$staging.log"
rm -rf "$libs"
mv "$staging" "$libs"
trap - EXIT
echo "install-kafka: $(ls "$libs" | wc -l) jars in $libs" >&2
echo "$libs"
