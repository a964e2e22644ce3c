#!/usr/bin/env bash
# Installs the real components the tests run (DESIGN.md section 7) from Debian: the Distribution registry, nginx,
# skopeo, htpasswd, kcat, headless Chromium and its driver, poppler (PDF reports), openssl, goaccess, curl, wrk.
# Idempotent and quiet: when every package is already installed it does not touch apt at all, so local reruns of
# `make setup` cost nothing. Java 17, Maven (Kafka jars) and python3-venv are installed only when missing.
set -euo pipefail

# Debian package -> a binary it provides (checked with command -v, then dpkg as a fallback).
declare -A packages=(
    [docker-registry]=docker-registry
    [nginx]=nginx
    [skopeo]=skopeo
    [apache2-utils]=htpasswd
    [kcat]=kcat
    [chromium]=chromium
    [chromium-driver]=chromedriver
    [poppler-utils]=pdftotext
    [openssl]=openssl
    [goaccess]=goaccess
    [curl]=curl
    [wrk]=wrk  # bench/webhook.py load generator
)

installed() {
    # $1 package, $2 binary. /usr/sbin is not on every user's PATH (nginx lives there), so also ask dpkg.
    command -v "$2" >/dev/null 2>&1 \
        || [[ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null)" == "install ok installed" ]]
}

missing=()
for package in "${!packages[@]}"; do
    installed "$package" "${packages[$package]}" || missing+=("$package")
done
command -v java >/dev/null 2>&1 || missing+=(openjdk-17-jre-headless)
command -v mvn >/dev/null 2>&1 || missing+=(maven)
python3 -c 'import ensurepip' >/dev/null 2>&1 || missing+=(python3-venv)

if ((${#missing[@]} == 0)); then
    echo "install-system: all system packages present"
    exit 0
fi

sudo=()
if ((EUID != 0)); then
    command -v sudo >/dev/null || { echo "install-system: need root or sudo to install ${missing[*]}" >&2; exit 1; }
    sudo=(sudo)
fi

echo "install-system: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get -qq update
"${sudo[@]}" apt-get -qq -y -o Dpkg::Use-Pty=0 install "${missing[@]}" >/dev/null
echo "install-system: done"
