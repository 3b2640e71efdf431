#!/usr/bin/env bash
# Installs what the hub and its checks need from Debian when it is missing: a Java
# runtime (17+) and Maven for the Kafka broker; Prometheus (prometheus and promtool) for
# the alert-rule tests and the dashboard test; fonts for the PDF records; Go for the S3
# test server; Chromium, ChromeDriver and npm for the console. Python 3.11+ is expected
# on the machine, and a Java 21+ runtime under /usr/lib/jvm for the console's identity
# provider (Keycloak 26; Debian 12 packages none: the machine's Temurin JDK serves).
set -euo pipefail
missing=()
command -v java >/dev/null 2>&1 || missing+=(openjdk-17-jre-headless)
command -v mvn >/dev/null 2>&1 || missing+=(maven)
{ command -v prometheus && command -v promtool; } >/dev/null 2>&1 || missing+=(prometheus)
# The sealed PDF records are set in DejaVu Sans (every character of French and names).
[ -f /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ] || missing+=(fonts-dejavu-core)
# Go builds the S3-compatible server the documents' S3 store is tested against.
command -v go >/dev/null 2>&1 || [ -x /usr/local/go/bin/go ] || missing+=(golang-go)
# The console's browser tests drive Debian's Chromium through its ChromeDriver.
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
command -v chromedriver >/dev/null 2>&1 || missing+=(chromium-driver)
# The console's design system (DSFR) and the accessibility checker come from npm.
command -v npm >/dev/null 2>&1 || missing+=(npm)
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing ${missing[*]} from Debian" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
python3 -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11+ is required")'
