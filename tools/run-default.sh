#!/bin/sh
# `make run`: boot the default guest, pvsh (the guest kit's shell), on the
# best backend for this machine.  Ctrl-A x quits.
cd "$(dirname "$0")/.." || exit 1
exec ./build/pvisor run guest/build/pvsh "$@"
