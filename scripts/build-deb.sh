#!/usr/bin/env bash
# Builds the Debian package: `bash scripts/build-deb.sh` → target/debian/impulse_VERSION_ARCH.deb
# (a release build of the binary, the systemd unit, the default configuration as a conffile,
# logrotate, and the docs). Needs only cargo and dpkg-deb (Debian's dpkg).
set -euo pipefail
cd "$(dirname "$0")/.."

version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n1)
arch=$(dpkg --print-architecture)
cargo build --release --locked -p impulse
bin=${CARGO_TARGET_DIR:-target}/release/impulse

root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
pkg="$root/impulse_${version}_${arch}"
install -D -m 0755 "$bin" "$pkg/usr/bin/impulse"
# The release profile keeps line tables for backtraces; the package ships without them.
strip --strip-debug "$pkg/usr/bin/impulse" 2>/dev/null || true
install -D -m 0644 packaging/impulse.service "$pkg/lib/systemd/system/impulse.service"
install -D -m 0640 packaging/impulse.conf "$pkg/etc/impulse/impulse.conf"
install -D -m 0644 packaging/impulse.logrotate "$pkg/etc/logrotate.d/impulse"
install -D -m 0644 README.md "$pkg/usr/share/doc/impulse/README.md"
install -D -m 0644 docs/configuration.md "$pkg/usr/share/doc/impulse/configuration.md"
install -D -m 0644 docs/operations.md "$pkg/usr/share/doc/impulse/operations.md"
cat > "$pkg/usr/share/doc/impulse/copyright" <<COPYRIGHT
Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: impulse
Source: https://github.com/impulse-gateway/impulse

Files: *
License: Apache-2.0
 On Debian systems, the full text is in /usr/share/common-licenses/Apache-2.0.
COPYRIGHT

mkdir -p "$pkg/DEBIAN"
size=$(du -sk "$pkg" | cut -f1)
cat > "$pkg/DEBIAN/control" <<CONTROL
Package: impulse
Version: $version
Architecture: $arch
Maintainer: Impulse developers <impulse@localhost>
Installed-Size: $size
Depends: libc6, adduser
Section: mail
Priority: optional
Homepage: https://github.com/impulse-gateway/impulse
Description: email to SMS/MMS gateway (SMTP, SMPP 3.4, MM7)
 Impulse accepts mail over SMTP and delivers it as SMS over SMPP 3.4 or as
 MMS over 3GPP MM7, and turns SMS and MMS from the operator into mail. It
 reads Momentum (ecelerity.conf) configurations and keeps every message it
 acknowledged in a durable spool.
CONTROL
echo "/etc/impulse/impulse.conf" > "$pkg/DEBIAN/conffiles"
cat > "$pkg/DEBIAN/postinst" <<'POSTINST'
#!/bin/sh
set -e
if [ "$1" = configure ]; then
  if ! getent passwd impulse >/dev/null; then
    adduser --system --group --home /var/spool/impulse --no-create-home impulse
  fi
  install -d -o impulse -g impulse -m 0750 /var/spool/impulse /var/log/impulse
  chgrp impulse /etc/impulse/impulse.conf
  if [ -d /run/systemd/system ]; then
    systemctl daemon-reload
    systemctl enable impulse.service >/dev/null || true
    systemctl restart impulse.service || true
  fi
fi
POSTINST
cat > "$pkg/DEBIAN/prerm" <<'PRERM'
#!/bin/sh
set -e
if [ -d /run/systemd/system ] && [ "$1" = remove ]; then
  systemctl stop impulse.service || true
  systemctl disable impulse.service >/dev/null || true
fi
PRERM
cat > "$pkg/DEBIAN/postrm" <<'POSTRM'
#!/bin/sh
set -e
if [ -d /run/systemd/system ]; then systemctl daemon-reload || true; fi
POSTRM
chmod 0755 "$pkg/DEBIAN/postinst" "$pkg/DEBIAN/prerm" "$pkg/DEBIAN/postrm"

mkdir -p target/debian
out="target/debian/impulse_${version}_${arch}.deb"
fakeroot dpkg-deb --build --root-owner-group "$pkg" "$out" 2>/dev/null || dpkg-deb --build --root-owner-group "$pkg" "$out"
echo "built $out"
