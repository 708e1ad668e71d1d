#!/usr/bin/env bash
# Installs the Debian packages rmaat needs, only those that are missing.
# Run as root on Debian bookworm (or with sudo available). Safe to run again.
#   --dev   also what the sanitizer and fuzz builds need (scripts/sanitize.sh, scripts/fuzz.sh): clang,
#           its sanitizer and libFuzzer runtimes (libclang-rt-14-dev) and llvm-symbolizer (llvm) for
#           readable stacks
set -euo pipefail

PACKAGES=(
  build-essential cmake ninja-build pkg-config git
  libeigen3-dev libboost-dev libhdf5-dev hdf5-tools
  libtomlplusplus-dev libcli11-dev libfmt-dev catch2 libbenchmark-dev
  libceres-dev
  libtorch-dev libopenblas0-pthread libgloo-dev
  python3 python3-h5py python3-matplotlib python3-numpy
  dataset-fashion-mnist
  libpng-dev
)
DEV_PACKAGES=(clang libclang-rt-14-dev llvm)

for arg in "$@"; do
  case "$arg" in
    --dev) PACKAGES+=("${DEV_PACKAGES[@]}") ;;
    *) echo "setup: unknown argument '$arg' (known: --dev)" >&2; exit 2 ;;
  esac
done

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "setup: all ${#PACKAGES[@]} packages present"
  exit 0
fi

echo "setup: installing ${missing[*]}"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
