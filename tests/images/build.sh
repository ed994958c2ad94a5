#!/usr/bin/env bash
# Builds the two local images every Docker test uses -- nothing can be pulled on these machines:
#
#   minik8s/busybox:latest  Debian's static busybox with its applet links, /etc/passwd, /etc/group,
#                           /tmp; CMD ["sh"]. The stand-in for docker.io/library/busybox.
#   minik8s/pause:latest    the pod sandbox: the same rootfs whose default command sleeps forever
#                           and exits at once on SIGTERM (busybox `sleep` as PID 1 would ignore it
#                           and every sandbox stop would wait out Docker's kill timeout).
#
# Idempotent and fast: each image carries a label with a hash of this script and the busybox
# binary, and is rebuilt only when that hash differs. Concurrent runs serialise on a lock.
# Env: BUSYBOX (path to a static busybox, default /bin/busybox), FORCE=1 rebuilds.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
busybox=${BUSYBOX:-/bin/busybox}
label=io.minik8s.image-recipe
images=(minik8s/busybox:latest minik8s/pause:latest)

log() { printf '[images] %s\n' "$*" >&2; }
die() { printf '[images] error: %s\n' "$*" >&2; exit 1; }

[ -x "$busybox" ] || die "$busybox not found: apt-get install busybox-static"
# A dynamic busybox (Debian's `busybox` package) would not run in a rootfs without libc.
if ldd "$busybox" >/dev/null 2>&1; then
    die "$busybox is dynamically linked: apt-get install busybox-static"
fi

recipe=$(cat "$here/build.sh" "$busybox" | sha256sum | cut -c1-16)

current() { docker image inspect -f "{{index .Config.Labels \"$label\"}}" "$1" 2>/dev/null || true; }
all_current() {
    local image
    for image in "${images[@]}"; do [ "$(current "$image")" = "$recipe" ] || return 1; done
}

[ "${FORCE:-}" != 1 ] && all_current && exit 0

exec 9>"${TMPDIR:-/tmp}/minik8s-images.lock"
flock 9
# Another run may have built them while we waited for the lock.
[ "${FORCE:-}" != 1 ] && all_current && exit 0

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
root=$work/rootfs
mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,etc,root,home,var/run,proc,sys,dev}
install -d -m 1777 "$root/tmp" "$root/var/tmp"
install -m 0755 "$busybox" "$root/bin/busybox"
# Applet links where busybox says each applet lives (bin/sh, usr/bin/nc, sbin/ifconfig, ...).
"$busybox" --list-full | while read -r applet; do
    [ "$applet" = bin/busybox ] || ln -sf /bin/busybox "$root/$applet"
done

cat >"$root/etc/passwd" <<'PASSWD'
root:x:0:0:root:/root:/bin/sh
daemon:x:1:1:daemon:/usr/sbin:/bin/false
www-data:x:33:33:www-data:/var/www:/bin/false
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
PASSWD
cat >"$root/etc/group" <<'GROUP'
root:x:0:
daemon:x:1:
www-data:x:33:
nogroup:x:65534:
GROUP
echo 'hosts: files dns' >"$root/etc/nsswitch.conf"
# Docker bind-mounts these three; empty files keep the image usable outside Docker too.
: >"$root/etc/hosts"; : >"$root/etc/resolv.conf"; : >"$root/etc/hostname"

# The sandbox's command. `wait` returns as soon as a trapped signal arrives, so SIGTERM ends the
# container promptly; the sleeping child dies with the PID namespace.
cat >"$root/pause" <<'PAUSE'
#!/bin/sh
trap 'exit 0' TERM INT
while :; do
    sleep 3600 &
    wait $!
done
PAUSE
chmod 0755 "$root/pause"

rootfs_tar=$work/rootfs.tar
tar --numeric-owner --owner=0 --group=0 -C "$root" -cf "$rootfs_tar" .

log "building minik8s/busybox:latest"
docker import --change 'CMD ["sh"]' --change "LABEL $label=$recipe" \
    "$rootfs_tar" minik8s/busybox:latest >/dev/null
log "building minik8s/pause:latest"
docker import --change 'CMD ["/pause"]' --change "LABEL $label=$recipe" \
    "$rootfs_tar" minik8s/pause:latest >/dev/null
