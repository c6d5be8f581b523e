#!/usr/bin/env bash
# Builds the vcsync image from Dockerfile with no registry and no network in the build: the local Debian base
# (base.sh) and a wheelhouse of the build backend and every runtime dependency, made here with the machine's pip
# (which trusts the machine's CA bundle) into build/wheelhouse. Skips the build when an image of exactly these
# inputs exists. Tags vcsync:local and prints it.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
python=${PYTHON:-$root/.venv/bin/python}
say() { printf '[image %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

bash hack/image/dockerd.sh
base=$(bash hack/image/base.sh)
docker tag "$base" vcsync-base:bookworm

requirements=$("$python" -c 'import tomllib; p = tomllib.load(open("pyproject.toml", "rb"))
print("\n".join([*p["build-system"]["requires"], *p["project"]["dependencies"]]))')
wheel_key=$(printf '%s\n' "$requirements" | sha256sum | cut -c1-12)
if [ "$(cat build/wheelhouse/.key 2>/dev/null)" != "$wheel_key" ]; then
  say "wheelhouse for: $(echo "$requirements" | tr '\n' ' ')"
  rm -rf build/wheelhouse && mkdir -p build
  printf '%s\n' "$requirements" >build/requirements.txt
  "$python" -m pip wheel --quiet --disable-pip-version-check --wheel-dir build/wheelhouse -r build/requirements.txt
  echo "$wheel_key" >build/wheelhouse/.key
fi

inputs=$( (docker image inspect -f '{{.Id}}' "$base"; cat Dockerfile .dockerignore build/wheelhouse/.key;
  git ls-files -s pyproject.toml README.md syncer translators vocab; git diff HEAD -- pyproject.toml README.md syncer translators vocab) |
  sha256sum | cut -c1-12)
if ! docker image inspect "vcsync:in-$inputs" >/dev/null 2>&1; then
  say "docker build (inputs $inputs)"
  docker build --quiet --build-arg "BASE=$base" -t "vcsync:in-$inputs" . >/dev/null
fi
docker tag "vcsync:in-$inputs" vcsync:local
echo vcsync:local
