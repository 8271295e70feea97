#!/usr/bin/env bash
# Install the third-party MCP server that the tests drive, @modelcontextprotocol/server-filesystem,
# into a project-local folder (never globally): .venv/mcp-test-servers by default, or the folder
# given as $1 (or $STEWARD_MCP_TEST_SERVERS). Needs Node (18 or later) and npm. Run it again any
# time: it does nothing when that version is already there.
set -euo pipefail
cd "$(dirname "$0")/.."

PACKAGE="@modelcontextprotocol/server-filesystem"
VERSION="2026.8.31"
DEST="${1:-${STEWARD_MCP_TEST_SERVERS:-.venv/mcp-test-servers}}"
ENTRY="$DEST/node_modules/$PACKAGE/dist/index.js"

for tool in node npm; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    echo "install_mcp_test_server: $tool is not installed; install Node.js 18+ with npm" >&2
    exit 1
  fi
done

installed="$(node -p "require(require('path').resolve(process.argv[1])).version" \
  "$DEST/node_modules/$PACKAGE/package.json" 2>/dev/null || true)"
if [ "$installed" = "$VERSION" ] && [ -f "$ENTRY" ]; then
  echo "$PACKAGE@$VERSION is installed in $DEST"
  exit 0
fi

mkdir -p "$DEST"
npm install --prefix "$DEST" --no-audit --no-fund --loglevel=error "$PACKAGE@$VERSION"
test -f "$ENTRY" || { echo "install_mcp_test_server: $ENTRY is missing after npm install" >&2; exit 1; }
echo "$PACKAGE@$VERSION installed in $DEST"
