#!/bin/sh
# Create what docker-compose.yml needs and git does not hold: .env (from deploy/.env.example, with a fresh
# KAFKA_CLUSTER_ID) and the files in deploy/secrets/ (deploy/secrets/README.md lists them). A file that exists
# is never touched, so this is safe to run again, e.g. after deleting one file to renew it.
#
# The TLS certificate made here is self-signed, for a first start: replace tls.crt and tls.key by one your
# clients trust. registry.htpasswd and dashboard_users start empty (every login is refused): add users with
#   htpasswd -B deploy/secrets/registry.htpasswd <user>
# and `regaudit dashboard add-user` (docs/production.md, "First start").
#
# Needs openssl. Environment: REGISTRY_HOSTNAME (name in the self-signed certificate, default: this host's
# name), SECRETS_DIR and ENV_FILE (where to write; the defaults are deploy/secrets and .env).
set -eu

root=$(cd "$(dirname "$0")/.." && pwd)
secrets=${SECRETS_DIR:-$root/deploy/secrets}
env_file=${ENV_FILE:-$root/.env}
hostname=${REGISTRY_HOSTNAME:-$(hostname -f 2>/dev/null || hostname)}

umask 077
mkdir -p "$secrets"
chmod 0700 "$secrets"

created() { echo "created $1"; }

# new_file NAME MODE: true (and the file exists, empty, with MODE) when NAME was missing.
new_file() {
  [ -e "$secrets/$1" ] && return 1
  : > "$secrets/$1"
  chmod "$2" "$secrets/$1"
  created "$secrets/$1"
}

random_hex() { openssl rand -hex 32; }

if new_file registry_webhook_token 0600; then
  random_hex > "$secrets/registry_webhook_token"
fi
if new_file webhook_tokens 0644; then
  # The webhook accepts the registry's token; during a rotation this file holds the old and the new one.
  cat "$secrets/registry_webhook_token" > "$secrets/webhook_tokens"
fi
if new_file registry_http_secret 0600; then
  random_hex > "$secrets/registry_http_secret"
fi
# Kafka's SCRAM users: admin (the broker and kafka-init) and one per client service. Read by the kafka image's
# non-root user (appuser) and regaudit (uid 10001). Hex: the broker's entrypoint accepts [A-Za-z0-9._~-] only.
for user in admin webhook shipper consumer; do
  if new_file "kafka_${user}_password" 0644; then
    random_hex > "$secrets/kafka_${user}_password"
  fi
done
# The Ed25519 key that signs the chain checkpoints (and purges, reports), in the format `regaudit report keygen`
# writes, and its public half, which verify trusts. Read by the checkpoint service (uid 10001) only; the store's
# writers never mount it. Give the fingerprint printed here to the auditors, by a channel of their own.
if [ ! -e "$secrets/report_signing_key.pem" ] && [ ! -e "$secrets/report_signing_key.pub.pem" ]; then
  openssl genpkey -algorithm ed25519 -out "$secrets/report_signing_key.pem"
  openssl pkey -in "$secrets/report_signing_key.pem" -pubout -out "$secrets/report_signing_key.pub.pem"
  chmod 0644 "$secrets/report_signing_key.pem" "$secrets/report_signing_key.pub.pem"
  fingerprint=$(openssl pkey -pubin -in "$secrets/report_signing_key.pub.pem" -outform DER | tail -c 32 \
    | openssl dgst -sha256 -r | cut -d' ' -f1)
  created "$secrets/report_signing_key.pem and .pub.pem (fingerprint $fingerprint)"
fi
if new_file registry.htpasswd 0644; then
  echo "  add the registry's users: htpasswd -B $secrets/registry.htpasswd <user>"
fi
if new_file dashboard_users 0644; then
  echo "  add the dashboard's users: regaudit dashboard add-user (docs/production.md, \"First start\")"
fi
if [ ! -e "$secrets/tls.crt" ] && [ ! -e "$secrets/tls.key" ]; then
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 365 \
    -subj "/CN=$hostname" -addext "subjectAltName=DNS:$hostname" \
    -keyout "$secrets/tls.key" -out "$secrets/tls.crt" 2>/dev/null
  chmod 0600 "$secrets/tls.key"
  chmod 0644 "$secrets/tls.crt"
  created "$secrets/tls.crt and tls.key (self-signed for $hostname: replace them by a trusted certificate)"
fi

if [ ! -e "$env_file" ]; then
  cluster_id=$(openssl rand -base64 16 | tr '+/' '-_' | tr -d '=\n')
  sed "s|^KAFKA_CLUSTER_ID=.*|KAFKA_CLUSTER_ID=$cluster_id|" "$root/deploy/.env.example" > "$env_file"
  chmod 0600 "$env_file"
  created "$env_file"
fi
