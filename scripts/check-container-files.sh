#!/usr/bin/env bash
# There is no Docker engine on the development and CI machines, so the container files are
# checked statically: the compose file by docker-compose's own parser, the Dockerfile by a linter.
# A missing tool is reported and skipped (nothing to run it with); a finding fails the check.
set -uo pipefail
cd "$(dirname "$0")/.."
status=0
if command -v docker-compose >/dev/null 2>&1; then
  docker-compose -f docker-compose.yml config -q && echo "docker-compose.yml: valid" || status=1
else
  echo "docker-compose not installed: docker-compose.yml not checked"
fi
if out=$(npx --yes dockerfilelint@1.8.0 Dockerfile 2>/dev/null); then
  echo "Dockerfile: no lint findings"
elif echo "$out" | grep -q "Issues:"; then
  echo "$out"; status=1
else
  echo "dockerfilelint unavailable: Dockerfile not checked"
fi
exit $status
