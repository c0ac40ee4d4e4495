#!/bin/bash
# Build rustbox_<version>_amd64.deb from the release binary: `make deb`.
#   packaging/deb.sh BINARY VERSION OUTDIR
set -euo pipefail
bin=$1 version=$2 out=$3
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/.." && pwd)
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
chmod 0755 "$stage"
install -d "$stage/DEBIAN" "$stage/usr/bin" "$stage/etc/rustbox" \
    "$stage/usr/share/man/man1" "$stage/usr/share/doc/rustbox/docs" \
    "$stage/usr/share/bash-completion/completions" \
    "$stage/usr/share/zsh/vendor-completions" \
    "$stage/usr/share/fish/vendor_completions.d"
install -m 4755 "$bin" "$stage/usr/bin/rustbox"
install -m 0644 "$here/debian/config" "$stage/etc/rustbox/config"
gzip -9n < "$top/docs/man/rustbox.1" > "$stage/usr/share/man/man1/rustbox.1.gz"
install -m 0644 "$top/completions/rustbox.bash" "$stage/usr/share/bash-completion/completions/rustbox"
install -m 0644 "$top/completions/_rustbox" "$stage/usr/share/zsh/vendor-completions/_rustbox"
install -m 0644 "$top/completions/rustbox.fish" "$stage/usr/share/fish/vendor_completions.d/rustbox.fish"
install -m 0644 "$top/README.md" "$top/HARDENING.md" "$stage/usr/share/doc/rustbox/"
install -m 0644 "$top"/docs/*.md "$stage/usr/share/doc/rustbox/docs/"
printf 'rustbox %s: see /usr/share/doc/rustbox/README.md\n' "$version" > "$stage/usr/share/doc/rustbox/copyright"
echo /etc/rustbox/config > "$stage/DEBIAN/conffiles"
install -m 0755 "$here/debian/preinst" "$here/debian/prerm" "$here/debian/postrm" "$stage/DEBIAN/"
size=$(du -sk --exclude=DEBIAN "$stage" | cut -f1)
sed -e "s/@VERSION@/$version/" -e "s/@SIZE@/$size/" "$here/debian/control.in" > "$stage/DEBIAN/control"
mkdir -p "$out"
dpkg-deb --root-owner-group -Zxz --build "$stage" "$out/rustbox_${version}_amd64.deb" >/dev/null
echo "$out/rustbox_${version}_amd64.deb"
