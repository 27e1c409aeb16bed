#!/usr/bin/env bash
# Installs the third-party peers the integration tests talk to, on a fresh Debian machine:
# swaks (SMTP client, with its TLS modules), curl (HTTPS client), Postfix's smtp-source/smtp-sink (load and sink), Python aiosmtpd (SMTP sink)
# and smpplib (SMPP ESME), PostgreSQL (the shared spool's tests), lxml (validates MM7 output against the 3GPP XSDs), the npm `smpp` package (SMSC peer) and
# Chromium (renders the status page headless). Idempotent: skips what is there.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
SUDO=""
if [ "$(id -u)" != 0 ] && command -v sudo >/dev/null; then SUDO=sudo; fi

need_apt=()
command -v swaks >/dev/null || need_apt+=(swaks)
# swaks speaks STARTTLS and SMTPS through these Perl modules; curl is the HTTPS client.
perl -MIO::Socket::SSL -MNet::SSLeay -e1 2>/dev/null || need_apt+=(libnet-ssleay-perl libio-socket-ssl-perl)
command -v curl >/dev/null || need_apt+=(curl)
# Headless Chromium renders the admin status page in the operations test.
command -v chromium >/dev/null || need_apt+=(chromium)
{ command -v smtp-source >/dev/null || [ -x /usr/sbin/smtp-source ]; } || need_apt+=(postfix)
# PostgreSQL for the shared spool's tests (scripts/test-postgres.sh runs a throwaway server).
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need_apt+=(postgresql)
if [ ${#need_apt[@]} -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  # Postfix's maintainer scripts ask questions and try to start a daemon; we only want its tools.
  echo "postfix postfix/main_mailer_type select No configuration" | $SUDO debconf-set-selections || true
  # Debian's postgresql would create and start a cluster of its own: the tests run their own.
  if [ ! -e /etc/postgresql-common/createcluster.conf ]; then
    $SUDO mkdir -p /etc/postgresql-common
    echo "create_main_cluster = false" | $SUDO tee /etc/postgresql-common/createcluster.conf >/dev/null
  fi
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
fi

python3 -c 'import aiosmtpd, smpplib, lxml' 2>/dev/null || \
  python3 -m pip install --quiet --disable-pip-version-check 'aiosmtpd==1.4.6' 'smpplib==2.2.4' 'lxml==5.3.0'

if [ -f "$here/tests/peers/package.json" ] && [ ! -d "$here/tests/peers/node_modules/smpp" ]; then
  (cd "$here/tests/peers" && npm ci --silent --no-audit --no-fund)
fi
