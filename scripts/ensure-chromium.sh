#!/usr/bin/env bash
# The report tests render HTML in a real headless browser; install Debian's chromium when missing.
# Without root or apt the tests that need it are skipped with a message saying so.
set -u
command -v chromium >/dev/null 2>&1 && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "ensure-chromium: installing Debian's chromium for the report tests"
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
    || echo "ensure-chromium: could not install chromium; browser tests will be skipped" >&2
else
  echo "ensure-chromium: chromium missing and cannot install it here; browser tests will be skipped" >&2
fi
exit 0
