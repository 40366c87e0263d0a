#!/usr/bin/env bash
# Build the two native parts of the desktop window:
#   1. the NodeGui addon node_modules/@nodegui/nodegui/build/Release/nodegui_core.node,
#      compiled against the system Qt 6 (Debian 12: qt6-base-dev, Qt 6.4.2);
#   2. native/qode-shim/build/qode_shim.node, which defines the symbols that the
#      addon expects from NodeGui's patched Node.js binary "qode".
# Each part is skipped when it is newer than its sources, so running this again
# is cheap. The addon build took 5 to 9 minutes on a 2-core machine, and about
# 710 MB of memory. With ccache installed, a rebuild after `npm ci` reuses the
# compiled objects.
#
# Usage: scripts/build-gui.sh [--force]
set -euo pipefail

repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo_root"

force=0
for arg in "$@"; do
  case "$arg" in
    --force) force=1 ;;
    -h|--help)
      sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'
      exit 0
      ;;
    *)
      echo "build-gui: unknown option '$arg' (expected --force)" >&2
      exit 2
      ;;
  esac
done

step() { echo "build-gui: $*"; }
fail() { echo "build-gui: error: $*" >&2; exit 1; }

nodegui_dir=node_modules/@nodegui/nodegui
addon=$nodegui_dir/build/Release/nodegui_core.node
shim_source=native/qode-shim/qode_shim.cc
shim=native/qode-shim/build/qode_shim.node

[ -d "$nodegui_dir" ] || fail "$nodegui_dir is missing; run npm ci first"
command -v cmake >/dev/null || fail "cmake not found; install it with: apt-get install cmake"
command -v g++ >/dev/null || fail "g++ not found; install it with: apt-get install g++"
[ -n "$(find /usr/lib -path '*/cmake/Qt6/Qt6Config.cmake' -print -quit 2>/dev/null)" ] \
  || fail "Qt 6 development files not found; install them with: apt-get install qt6-base-dev qt6-svg-dev"

# --- NodeGui addon ----------------------------------------------------------

if [ "$force" = 0 ] && [ -f "$addon" ] && [ -z "$(find "$nodegui_dir/src/cpp" "$nodegui_dir/CMakeLists.txt" -newer "$addon" -print -quit)" ]; then
  step "addon: $addon up to date"
else
  launcher=()
  if command -v ccache >/dev/null; then
    launcher=(--CDCMAKE_CXX_COMPILER_LAUNCHER=ccache --CDCMAKE_C_COMPILER_LAUNCHER=ccache)
    step "addon: compiling with ccache (cache: $(ccache --get-config cache_dir))"
  else
    step "addon: compiling without ccache (apt-get install ccache makes rebuilds fast)"
  fi
  # NodeGui's own install script downloads Qt and a prebuilt addon, which this
  # build replaces: QT_INSTALL_DIR points its CMake files at the system Qt.
  (cd "$nodegui_dir" && QT_INSTALL_DIR=/usr CMAKE_BUILD_PARALLEL_LEVEL="${CMAKE_BUILD_PARALLEL_LEVEL:-2}" \
    npx --no-install cmake-js compile "${launcher[@]}") || fail "the NodeGui addon build failed; see the compiler errors above"
  [ -f "$addon" ] || fail "the build finished but $addon is missing"
  step "addon: built $addon"
fi

# --- qode shim --------------------------------------------------------------

headers=node_modules/node-api-headers/include
[ -f "$headers/node_api.h" ] || headers=/usr/include/node
[ -f "$headers/node_api.h" ] || fail "node_api.h not found in node_modules/node-api-headers or /usr/include/node; run npm ci"

if [ "$force" = 0 ] && [ -f "$shim" ] && [ "$shim" -nt "$shim_source" ]; then
  step "shim: $shim up to date"
else
  mkdir -p "$(dirname "$shim")"
  g++ -std=c++17 -O2 -shared -fPIC -DNODE_GYP_MODULE_NAME=qode_shim -I"$headers" "$shim_source" -o "$shim" \
    || fail "compiling $shim_source failed"
  step "shim: built $shim"
fi
