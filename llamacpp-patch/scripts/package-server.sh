#!/usr/bin/env bash
# Package llama-server and ggml-rpc-server of a native build (the patched tree, --deltakv flags) with the shared
# libraries they load, as a tarball to deploy on a host: one replica behind a load balancer, or an RPC server that
# lends its devices to a model split over hosts (docs/scale-out.md).
#
# usage: package-server.sh NATIVE_DIR OUT.tar.gz
#
#   NATIVE_DIR  the staged natives (their BUILD-INFO names the build folder), e.g.
#               target/native-stage-linux-x86_64/META-INF/native/deltakv/linux-x86_64
#
# The tarball holds deltakv-server/bin/ (programs and libraries side by side: they find each other through
# $ORIGIN), BUILD-INFO, and the licences of llama.cpp (MIT) and of this project.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
native=${1:?usage: package-server.sh NATIVE_DIR OUT.tar.gz}
out=${2:?usage: package-server.sh NATIVE_DIR OUT.tar.gz}

build=$(sed -n 's/^build\.dir=//p' "$native/BUILD-INFO")
[ -n "$build" ] && [ -x "$build/bin/llama-server" ] || {
  echo "package-server: no llama-server in the build named by $native/BUILD-INFO ('$build')" >&2; exit 1; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
dir="$tmp/deltakv-server"
mkdir -p "$dir/bin"
cp "$build/bin/llama-server" "$build/bin/ggml-rpc-server" "$dir/bin/"
for lib in "$native"/lib*.so; do
  case "$(basename "$lib")" in
    libdeltakv_jni.so) ;; # the Java binding: not needed by the servers
    *) cp "$lib" "$dir/bin/" ;;
  esac
done
cp "$native/BUILD-INFO" "$dir/"
cp "$here/../LICENSE" "$here/../NOTICE" "$dir/"
tar -C "$tmp" -czf "$out" deltakv-server
echo "packaged $(cd "$dir" && find . -type f | wc -l) files into $out"
