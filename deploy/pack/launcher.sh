#!/bin/sh
# bin/sensorgate of an offline bundle: runs the bundled CLI with the device's `node` (the major
# version the bundle was built for, see sensorgate-bundle.json). Plain POSIX sh with builtins
# only, so that it also runs with nothing but `node` on PATH.
set -eu

self=$0
if command -v readlink >/dev/null 2>&1; then self=$(readlink -f "$0"); fi
case $self in
  */*) bindir=${self%/*} ;;
  *) bindir=. ;;
esac

# Under systemd, LoadCredential= puts each secret in $CREDENTIALS_DIRECTORY. A credential named
# SENSORGATE_<PATH> (systemd may prefix it with the LoadCredential id and "_") becomes the
# environment variable of that name, which overrides the config key it names (docs/reference/config.md).
if [ -n "${CREDENTIALS_DIRECTORY:-}" ]; then
  for file in "$CREDENTIALS_DIRECTORY"/*; do
    [ -f "$file" ] || continue
    name=${file##*/}
    case $name in
      SENSORGATE_*) ;;
      *_SENSORGATE_*) name=SENSORGATE_${name#*_SENSORGATE_} ;;
      *) continue ;;
    esac
    case $name in
      *[!A-Z0-9_]*) echo "sensorgate: ignoring credential $file: not a SENSORGATE_ variable name" >&2; continue ;;
    esac
    value=$(cat "$file")
    export "$name=$value"
  done
fi

main=$bindir/../dist/gateway/cli/main.js
# The Node flags of the CLI's shebang (#!/usr/bin/env -S node FLAGS): `node main.js` skips the
# shebang, and its flags bound the gateway's memory (see gateway/cli/main.ts).
read -r shebang < "$main"
case $shebang in
  *' node '*) flags=${shebang#*' node '} ;;
  *) flags= ;;
esac
# One word per flag: unquoted on purpose.
# shellcheck disable=SC2086
exec node $flags "$main" "$@"
