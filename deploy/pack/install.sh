#!/bin/sh
# Installs this sensorgate bundle as a systemd service. Run from the unpacked bundle, as root:
#
#   sudo ./install.sh --config config.yaml [--credentials DIR] [--identity FILE] [--start]
#   ./install.sh --root /tmp/target ...     (into a root file system tree, e.g. an image or a test)
#
# Puts the bundle in /opt/sensorgate, the unit in /etc/systemd/system/sensorgate.service, the
# config in /etc/sensorgate/config.yaml, credentials in /etc/sensorgate/credentials/ (0600,
# root only: systemd hands them to the service), and enables the service. Offline: it needs
# nothing but POSIX tools and systemctl. Installing again upgrades in place and keeps the
# config and credentials unless new ones are given.
set -eu

usage() {
  echo "usage: $0 [--root DIR] [--config FILE] [--credentials DIR] [--identity FILE] [--start]" >&2
  exit 2
}

root=/
config=
credentials=
identity=
start=no
while [ $# -gt 0 ]; do
  case $1 in
    --root) [ $# -ge 2 ] || usage; root=$2; shift 2 ;;
    --config) [ $# -ge 2 ] || usage; config=$2; shift 2 ;;
    --credentials) [ $# -ge 2 ] || usage; credentials=$2; shift 2 ;;
    --identity) [ $# -ge 2 ] || usage; identity=$2; shift 2 ;;
    --start) start=yes; shift ;;
    -h|--help) usage ;;
    *) echo "install.sh: unknown argument $1" >&2; usage ;;
  esac
done

log() { echo "sensorgate install: $*"; }
die() { echo "sensorgate install: $*" >&2; exit 1; }

here=$(cd "$(dirname "$0")" && pwd)
root=${root%/}
dest=$root/opt/sensorgate
etc=$root/etc/sensorgate
[ -f "$here/sensorgate-bundle.json" ] || die "$here is not an unpacked sensorgate bundle (no sensorgate-bundle.json)"
[ -n "$config" ] || [ -f "$etc/config.yaml" ] || die "no config: give --config FILE (none installed at $etc/config.yaml yet)"

# The native modules are built for one Node ABI; a mismatch only shows when the service starts,
# so say it now. Only on the live system: a --root tree's node cannot be run from here.
if [ -z "$root" ]; then
  want=$(sed -n 's/.*"modules": *"\([0-9]*\)".*/\1/p' "$here/sensorgate-bundle.json")
  if ! command -v node >/dev/null 2>&1; then
    log "WARNING: no node on PATH; install Node.js with NODE_MODULE_VERSION $want (see sensorgate-bundle.json)"
  else
    have=$(node -p process.versions.modules)
    [ "$have" = "$want" ] || log "WARNING: node $(node --version) has NODE_MODULE_VERSION $have, this bundle needs $want"
  fi
fi

# Bundle: copy beside the old one, then swap, so a failed copy leaves the old one working.
if [ "$(cd "$dest" 2>/dev/null && pwd)" != "$here" ]; then
  mkdir -p "$root/opt"
  rm -rf "$dest.new" "$dest.old"
  cp -R "$here" "$dest.new"
  if [ -e "$dest" ]; then mv "$dest" "$dest.old"; fi
  mv "$dest.new" "$dest"
  rm -rf "$dest.old"
  log "bundle installed in $dest"
fi

mkdir -p "$root/etc/systemd/system"
cp "$dest/deploy/systemd/sensorgate.service" "$root/etc/systemd/system/sensorgate.service"
chmod 0644 "$root/etc/systemd/system/sensorgate.service"

mkdir -p "$etc"
chmod 0755 "$etc"
# Root only: the service reads its copy through LoadCredential= (see the unit).
if [ -n "$config" ]; then
  cp "$config" "$etc/config.yaml"
  chmod 0600 "$etc/config.yaml"
  log "config installed in $etc/config.yaml"
fi
if [ -n "$identity" ]; then
  cp "$identity" "$etc/identity.json"
  chmod 0644 "$etc/identity.json"
fi
# LoadCredential= in the unit needs the directory, even empty.
mkdir -p "$etc/credentials"
chmod 0700 "$etc/credentials"
if [ -n "$credentials" ] && [ -d "$credentials" ]; then
  for file in "$credentials"/*; do
    [ -f "$file" ] || continue
    cp "$file" "$etc/credentials/${file##*/}"
    chmod 0600 "$etc/credentials/${file##*/}"
    log "credential ${file##*/} installed"
  done
fi

# The unit asks for the gpio group, which Raspberry Pi OS has and other systems may not:
# systemd refuses to start a unit whose SupplementaryGroups= do not exist.
if [ -f "$root/etc/group" ] && ! grep -q '^gpio:' "$root/etc/group"; then
  groupadd --system --prefix "${root:-/}" gpio
  log "created the gpio group"
fi

systemctl --root="${root:-/}" enable sensorgate.service
if [ -z "$root" ] && [ -d /run/systemd/system ]; then
  systemctl daemon-reload
  if [ "$start" = yes ]; then
    systemctl restart sensorgate.service
    log "service (re)started: journalctl -u sensorgate -f"
  fi
fi
log "done"
