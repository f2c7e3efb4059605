#!/usr/bin/env bash
# Fetch hanzi-writer-data (stroke outlines and medians of 9,574 characters, Arphic Public
# License) from the npm registry into a git-ignored cache; does nothing if it is already there.
#
# Usage: tools/fetch_stroke_data.sh [DEST]   (default: .cache/hanzi-writer-data in the repo)
set -euo pipefail

VERSION=2.0.1
# sha256 of hanzi-writer-data-2.0.1.tgz as published, so a changed tarball is noticed.
SHA256=72baf3d82b114e60d6e40ea05f24d2262a05cd39d544e2f322ba2fceb7beff15

REPO="$(cd "$(dirname "$0")/.." && pwd)"
DEST="${1:-$REPO/.cache/hanzi-writer-data}"

if [ -f "$DEST/一.json" ] && [ -f "$DEST/ARPHICPL.TXT" ] \
    && grep -q "\"version\": \"$VERSION\"" "$DEST/package.json" 2>/dev/null; then
    echo "hanzi-writer-data $VERSION already in $DEST"
    exit 0
fi

command -v npm >/dev/null || { echo "npm is needed to fetch hanzi-writer-data" >&2; exit 1; }
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

(cd "$work" && npm pack --silent "hanzi-writer-data@$VERSION" >/dev/null)
tarball="$work/hanzi-writer-data-$VERSION.tgz"
echo "$SHA256  $tarball" | sha256sum --check --quiet -
tar -xzf "$tarball" -C "$work"

# Swap in the complete directory at once, so an interrupted run never leaves half a cache.
mkdir -p "$(dirname "$DEST")"
rm -rf "$DEST.partial"
mv "$work/package" "$DEST.partial"
rm -rf "$DEST"
mv "$DEST.partial" "$DEST"
echo "hanzi-writer-data $VERSION: $(find "$DEST" -maxdepth 1 -name '*.json' | wc -l) files in $DEST"
