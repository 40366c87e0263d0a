#!/usr/bin/env bash
# Install what is missing to run (--runtime) or test (--test) Sciberia Loader
# on Debian 12 or Ubuntu. Safe to run again: every step first checks whether
# it is needed and prints one line saying what it did.
#
# Usage: scripts/setup.sh [--runtime|--test]    (default: --runtime)
#
# apt packages are installed as root, or through sudo when run as another user.
# Node.js itself is not installed here: Debian 12 ships Node 18, so install
# Node 20 from nodejs.org or NodeSource first.
set -euo pipefail

repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo_root"

mode=runtime
for arg in "$@"; do
  case "$arg" in
    --runtime) mode=runtime ;;
    --test) mode=test ;;
    -h|--help)
      sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'
      exit 0
      ;;
    *)
      echo "setup: unknown option '$arg' (expected --runtime or --test)" >&2
      exit 2
      ;;
  esac
done

step() { echo "setup: $*"; }
fail() { echo "setup: error: $*" >&2; exit 1; }

# The desktop window needs Qt 6 and a toolchain, because scripts/build-gui.sh
# compiles NodeGui's addon against the system Qt (NodeGui's own install
# script downloads Qt, which is not used). ccache makes rebuilds fast.
runtime_packages=(qt6-base-dev qt6-svg-dev cmake ninja-build g++ make ccache fonts-dejavu-core)
# Test peers (DCMTK, Orthanc with its GDCM transcoding plugin), the corpus
# builder (pydicom and numpy for /usr/bin/python3) and gdcmconv. The keychain
# tests run a throwaway Secret Service: gnome-keyring-daemon in a private
# D-Bus session (dbus-run-session is in dbus-daemon), read with secret-tool.
# The window tests run under Xvfb (xauth, trayer as a tray host), click with
# xdotool and take screenshots with ImageMagick's import. The SSH source
# tests start their own sshd (openssh-server) with keys from ssh-keygen
# (openssh-client).
test_packages=(dcmtk orthanc orthanc-gdcm python3-pydicom python3-numpy libgdcm-tools
  gnome-keyring dbus-daemon libsecret-tools xvfb xauth trayer xdotool imagemagick
  openssh-server openssh-client)

packages=("${runtime_packages[@]}")
if [ "$mode" = test ]; then
  packages+=("${test_packages[@]}")
fi

# --- apt packages -----------------------------------------------------------

is_installed() {
  [ "$(dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null)" = installed ]
}

missing=()
for package in "${packages[@]}"; do
  is_installed "$package" || missing+=("$package")
done

if [ ${#missing[@]} -eq 0 ]; then
  if [ ${#packages[@]} -eq 0 ]; then
    step "apt: no packages needed for --$mode"
  else
    step "apt: all ${#packages[@]} packages already installed (${packages[*]})"
  fi
else
  command -v apt-get >/dev/null || fail "apt-get not found; install these packages by hand: ${missing[*]}"
  if [ "$(id -u)" -eq 0 ]; then
    as_root=()
  elif command -v sudo >/dev/null; then
    as_root=(sudo)
  else
    fail "packages missing (${missing[*]}) and not running as root, and sudo is not installed"
  fi
  apt_options=(-o DPkg::Lock::Timeout=900)
  step "apt: updating package lists"
  "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get "${apt_options[@]}" update -qq
  step "apt: installing ${missing[*]}"
  "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get "${apt_options[@]}" \
    install -y -qq --no-install-recommends "${missing[@]}"
fi

# --- Node.js ----------------------------------------------------------------

command -v node >/dev/null || fail "node not found; install Node.js 20 (https://nodejs.org or NodeSource) and rerun"
node_version=$(node -p 'process.versions.node')
node_major=${node_version%%.*}
if [ "$node_major" -lt 20 ]; then
  fail "Node.js $node_version found, but the loader needs Node.js 20 or newer; install Node 20 (https://nodejs.org or NodeSource) and rerun"
elif [ "$node_major" -gt 20 ]; then
  step "node: v$node_version found (tested with Node 20; continuing)"
else
  step "node: v$node_version"
fi
command -v npm >/dev/null || fail "npm not found; it ships with Node.js, so reinstall Node.js 20"

# --- npm packages -----------------------------------------------------------

# npm writes node_modules/.package-lock.json on every install, so comparing
# its age with package-lock.json shows whether node_modules is outdated.
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  step "npm: running npm ci (node_modules missing or older than package-lock.json)"
  # Install scripts stay off: the one of @nodegui/nodegui downloads Qt from
  # the internet, which scripts/build-gui.sh replaces with a build against
  # Debian's Qt. The native addon that needs a build is rebuilt below.
  npm ci --ignore-scripts --no-audit --no-fund
else
  step "npm: node_modules up to date"
fi

# better-sqlite3 is a native addon, left unbuilt by the install above, so
# load it once and rebuild on failure.
sqlite_check="require('better-sqlite3')(':memory:').close()"
if node -e "$sqlite_check" 2>/dev/null; then
  step "npm: better-sqlite3 loads"
else
  step "npm: better-sqlite3 does not load; running npm rebuild better-sqlite3"
  npm rebuild better-sqlite3
  node -e "$sqlite_check" || fail "better-sqlite3 still fails to load after npm rebuild; check that python3, make and a C++ compiler are installed (apt-get install build-essential)"
  step "npm: better-sqlite3 loads after rebuild"
fi

# --- desktop window ---------------------------------------------------------

# Builds the NodeGui addon and the qode shim when missing or outdated; a
# failure leaves `loader start` on the headless server, so it only warns.
if ! scripts/build-gui.sh; then
  step "gui: warning: scripts/build-gui.sh failed, so loader start runs the headless server; see the errors above"
fi

# --- build ------------------------------------------------------------------

bundle=dist/loader.js
if [ ! -f "$bundle" ]; then
  step "build: $bundle missing; running npm run build"
  npm run --silent build || fail "npm run build failed; see the webpack errors above"
elif [ -n "$(find src webpack.config.js tsconfig.json package-lock.json -newer "$bundle" -print -quit)" ]; then
  step "build: sources newer than $bundle; running npm run build"
  npm run --silent build || fail "npm run build failed; see the webpack errors above"
else
  step "build: $bundle up to date"
fi

step "done (--$mode)"
