#!/bin/sh
# Rebuild every vendored front-end asset from npm, at the exact versions of
# tools/vendor/package-lock.json (npm ci: no version drift, no network look-ups beyond it).
#
#   static/vendor/codemirror/  CodeMirror 6 bundle (esbuild, minified) + licences + VERSIONS
#   tests/browser/vendor/axe/  axe-core (test-only; never served) + licence + VERSION
#
# Needs Node 20+ and npm.  node_modules/ stays in tools/vendor/ and is not committed.
set -eu
cd "$(dirname "$0")/vendor"
ROOT=$(cd ../.. && pwd)
npm ci --no-audit --no-fund --ignore-scripts
version() { node -p "require('./node_modules/$1/package.json').version"; }

CM="$ROOT/static/vendor/codemirror"
rm -rf "$CM" && mkdir -p "$CM"
./node_modules/.bin/esbuild codemirror-entry.js --bundle --minify \
  --format=iife --target=es2020 --legal-comments=none --outfile="$CM/codemirror.min.js"
{
  echo "CodeMirror 6 for the policy portal editor, built by tools/vendor.sh from npm:"
  for pkg in $(node -p "Object.keys(require('./package-lock.json').packages).filter(p => p).map(p => p.replace(/^node_modules\//, '')).filter(p => !p.includes('esbuild') && p !== 'axe-core').join(' ')"); do
    echo "$pkg $(version "$pkg")"
  done
} > "$CM/VERSIONS"
: > "$CM/LICENSES"
for pkg in $(tail -n +2 "$CM/VERSIONS" | cut -d' ' -f1); do
  for f in node_modules/$pkg/LICENSE*; do
    [ -f "$f" ] && { printf '==> %s (%s) <==\n' "$pkg" "$(version "$pkg")"; cat "$f"; echo; } >> "$CM/LICENSES"
  done
done

AXE="$ROOT/tests/browser/vendor/axe"
rm -rf "$AXE" && mkdir -p "$AXE"
cp node_modules/axe-core/axe.min.js node_modules/axe-core/LICENSE "$AXE/"
cp node_modules/axe-core/LICENSE-3RD-PARTY.txt "$AXE/" 2>/dev/null || true
echo "axe-core $(version axe-core)" > "$AXE/VERSION"
echo "vendored: $(head -1 "$AXE/VERSION"); codemirror $(wc -c < "$CM/codemirror.min.js") bytes"
