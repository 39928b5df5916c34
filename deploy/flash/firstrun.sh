#!/bin/sh
# sensorgate first-boot hook, put on a Raspberry Pi OS boot partition by `sensorgate flash`
# as <boot>/sensorgate/firstrun.sh beside the bundle, config, identity and credentials.
#
# Started once, as root, either by the kernel command line (cmdline.txt:
#   systemd.run=<boot>/sensorgate/firstrun.sh systemd.run_success_action=reboot ...)
# or by cloud-init (a runcmd entry in user-data, with --start). It installs the bundle with its
# install.sh, sets the hostname, then removes itself and the files it used (credentials
# included) from the boot partition. On failure it still unhooks itself, so the device does
# not reboot into it forever, and keeps the files for a manual retry:
#   sudo sh /boot/firmware/sensorgate/firstrun.sh --start
#
# ROOT (default /) and BOOT (default: the folder above this script) point it at another tree:
#   ROOT=/tmp/x BOOT=/tmp/x/boot/firmware sh firstrun.sh
set -eu

start=
[ "${1:-}" = --start ] && start=--start
ROOT=${ROOT:-}
ROOT=${ROOT%/}
if [ -z "${BOOT:-}" ]; then BOOT=$(cd "$(dirname "$0")/.." && pwd); fi
SRC=$BOOT/sensorgate
LOG=$BOOT/sensorgate-firstrun.log

log() { echo "sensorgate firstrun: $*"; echo "$(date -u +%FT%TZ) $*" >>"$LOG"; }

# Whatever happens, take the hook off the kernel command line, or every boot would run it again.
unhook() {
  status=$?
  [ -n "${unpacked:-}" ] && rm -rf "$unpacked"
  if [ -f "$BOOT/cmdline.txt" ]; then
    sed -i -e 's| systemd\.run=[^ ]*||g' -e 's| systemd\.run_success_action=[^ ]*||g' \
      -e 's| systemd\.run_failure_action=[^ ]*||g' -e 's| systemd\.unit=kernel-command-line\.target||g' \
      "$BOOT/cmdline.txt"
  fi
  if [ "$status" -eq 0 ]; then
    rm -rf "$SRC"
    log "done: sensorgate installed and enabled"
  else
    log "FAILED (exit $status); files kept in $SRC for a retry"
  fi
}
trap unhook EXIT

log "starting (root ${ROOT:-/}, boot partition $BOOT)"

# A hook that was on the command line before `sensorgate flash` took its place (e.g. Raspberry
# Pi Imager's firstrun.sh) runs first, as it would have; its failure is logged, not fatal.
if [ -f "$SRC/previous-hook" ]; then
  previous=$BOOT/$(cat "$SRC/previous-hook")
  if [ -f "$previous" ]; then
    log "running the previous first-boot hook $previous"
    if [ -x "$previous" ]; then "$previous" || log "previous hook failed ($?)"; else sh "$previous" || log "previous hook failed ($?)"; fi
  fi
fi

mkdir -p "$ROOT/opt"
unpacked=$(mktemp -d "$ROOT/opt/.sensorgate-XXXXXX")
tar -xzf "$SRC/bundle.tar.gz" -C "$unpacked"
set -- --root "${ROOT:-/}" --config "$SRC/config.yaml"
[ -d "$SRC/credentials" ] && set -- "$@" --credentials "$SRC/credentials"
[ -f "$SRC/identity.json" ] && set -- "$@" --identity "$SRC/identity.json"
[ -n "$start" ] && set -- "$@" "$start"
sh "$unpacked/sensorgate/install.sh" "$@" >>"$LOG" 2>&1

if [ -f "$SRC/hostname" ]; then
  name=$(cat "$SRC/hostname")
  old=$(cat "$ROOT/etc/hostname" 2>/dev/null || true)
  echo "$name" >"$ROOT/etc/hostname"
  if [ -f "$ROOT/etc/hosts" ] && [ -n "$old" ]; then
    sed -i "s/^127\.0\.1\.1[[:space:]].*$old.*/127.0.1.1\t$name/" "$ROOT/etc/hosts"
  fi
  log "hostname set to $name"
fi
