#!/usr/bin/env bash
# Prepare what scripts/vm-test boots: host packages, a Debian kernel (downloaded, never
# installed), its uncompressed vmlinux, its module tree and a busybox initramfs.
# Idempotent: apt-get runs only when a package is missing; the kernel is unpacked once per
# package version; the initramfs is rebuilt only when its inputs change.
#
#   scripts/vm/setup.sh [--kernel PKG] [--no-packages]
#
#   --kernel PKG    kernel package (default: the newest linux-image-6.12.*-amd64-unsigned
#                   apt knows; e.g. linux-image-6.1.0-56-amd64). Env: TPMRM_VM_KERNEL.
#   --no-packages   do not check or install host packages.
#
# Cache: $TPMRM_VM_CACHE, default ~/.cache/tpmrm-cuse-vm (never inside the repository).
# On success it prints, on stdout only, KEY=VALUE lines for scripts/vm-test:
#   VM_KERNEL_PKG VM_KERNEL_VERSION VM_KREL VM_VMLINUX VM_INITRD VM_MODDIR
# Progress and errors go to stderr, prefixed "vm-test:".
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd -P)
cache=${TPMRM_VM_CACHE:-${HOME:-/root}/.cache/tpmrm-cuse-vm}
kernel_pkg=${TPMRM_VM_KERNEL:-}
do_packages=1

# Modules the initramfs loads, in this order (dependencies are added before each).
initramfs_modules=(virtio_pci 9pnet_virtio 9p overlay fuse cuse)
# Host packages: qemu + qboot, busybox for the guest, swtpm for the TPM, and the tools
# this script uses to unpack a kernel. tpm2-tools for the guest's smoke test.
host_packages=(qemu-system-x86 qemu-system-data busybox-static swtpm swtpm-tools
	xz-utils zstd gzip cpio tpm2-tools util-linux coreutils)

log() { echo "vm-test: $*" >&2; }
die() {
	echo "vm-test: error: $*" >&2
	exit 1
}

usage() { awk 'NR > 1 && !/^#/ { exit } NR > 1 { sub(/^# ?/, ""); print }' "$0"; }

parse_args() {
	while [ $# -gt 0 ]; do
		case "$1" in
		--kernel)
			[ $# -ge 2 ] || die "--kernel needs a package name"
			kernel_pkg=$2
			shift
			;;
		--no-packages) do_packages=0 ;;
		-h | --help)
			usage
			exit 0
			;;
		*) die "setup.sh: unknown argument '$1' (see --help)" ;;
		esac
		shift
	done
}

apt_updated=0
apt_update() {
	[ $apt_updated -eq 0 ] || return 0
	log "apt-get update"
	apt-get update -qq -o DPkg::Lock::Timeout=300 >&2
	apt_updated=1
}

# shellcheck disable=SC2086 # $missing is a list of package names
ensure_packages() {
	local missing log_file
	# One dpkg-query for all of them; a package it does not know is missing too.
	missing=$(dpkg-query -W -f='${db:Status-Abbrev} ${binary:Package}\n' "${host_packages[@]}" \
		2>/dev/null | awk '$1 == "ii" { sub(/:.*/, "", $2); ok[$2] = 1 }
			END { n = split(want, w, " "); for (i = 1; i <= n; i++) if (!(w[i] in ok)) print w[i] }' \
		want="${host_packages[*]}" || true)
	[ -n "$missing" ] || return 0
	[ "$(id -u)" -eq 0 ] || die "missing packages ($missing) and not root to install them"
	apt_update
	log "installing $(printf '%s ' $missing)"
	log_file=$(mktemp)
	if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
		-o DPkg::Lock::Timeout=300 $missing >"$log_file" 2>&1; then
		tail -n 30 "$log_file" >&2
		rm -f "$log_file"
		die "apt-get install failed"
	fi
	rm -f "$log_file"
}

# Newest linux-image-6.12.<n>+deb12-amd64-unsigned that apt knows about.
newest_612() {
	apt-cache search --names-only '^linux-image-6\.12\.[0-9]+\+deb12-amd64-unsigned$' |
		awk '{print $1}' | sort -V | tail -n 1
}

pkg_version() {
	apt-cache show --no-all-versions "$1" 2>/dev/null | sed -n 's/^Version: //p' | head -n 1
}

# Fingerprint of apt's package lists: a resolution is reused until they change.
lists_stamp() {
	stat -c '%n %Y %s' /var/lib/apt/lists/*_Packages* 2>/dev/null | sha256sum | cut -c1-16
}

# Set kernel_pkg and kernel_version (apt-cache costs ~0.7 s a call here, so the answer is
# remembered in the cache for as long as apt's lists stay the same).
resolve_kernel() {
	local memo="$cache/resolved-${kernel_pkg:-default}" stamp m_stamp m_pkg m_version
	stamp=$(lists_stamp)
	if [ -s "$memo" ] && read -r m_stamp m_pkg m_version <"$memo" && [ "$m_stamp" = "$stamp" ]; then
		kernel_pkg=$m_pkg kernel_version=$m_version
		return 0
	fi
	if [ -z "$kernel_pkg" ]; then
		kernel_pkg=$(newest_612)
		if [ -z "$kernel_pkg" ]; then
			apt_update
			kernel_pkg=$(newest_612)
		fi
		[ -n "$kernel_pkg" ] || die "apt knows no linux-image-6.12.*-amd64-unsigned package"
	fi
	kernel_version=$(pkg_version "$kernel_pkg")
	if [ -z "$kernel_version" ]; then
		apt_update
		kernel_version=$(pkg_version "$kernel_pkg")
	fi
	[ -n "$kernel_version" ] || die "apt knows no package '$kernel_pkg'"
	echo "$(lists_stamp) $kernel_pkg $kernel_version" >"$memo.tmp" && mv "$memo.tmp" "$memo"
}

# Unpack the ELF vmlinux from a bzImage: try each compressor's magic until the output is ELF.
extract_vmlinux() { # BZIMAGE OUT
	local img=$1 out=$2 name magic tool off
	local -a formats=(
		"zstd|\\x28\\xb5\\x2f\\xfd|zstd -dcq"
		"xz|\\xfd\\x37\\x7a\\x58\\x5a\\x00|xz -dcq"
		"gzip|\\x1f\\x8b\\x08|gzip -dcq"
		"lz4|\\x02\\x21\\x4c\\x18|lz4 -dcq"
	)
	local f
	for f in "${formats[@]}"; do
		IFS='|' read -r name magic tool <<<"$f"
		command -v "${tool%% *}" >/dev/null || continue
		while read -r off; do
			tail -c "+$((off + 1))" "$img" | $tool >"$out" 2>/dev/null || true
			if [ "$(head -c 4 "$out" | od -An -c | tr -d ' ')" = '177ELF' ]; then
				log "vmlinux: $name stream at offset $off"
				return 0
			fi
		done < <(LC_ALL=C grep -obaUP "$magic" "$img" | cut -d: -f1)
	done
	rm -f "$out"
	return 1
}

# Download the kernel package and turn it into CACHE/KEY/{vmlinux,root/lib/modules/KREL,env}.
prepare_kernel() {
	local dest=$1 tmp deb moddir_rel krel n
	tmp="$cache/tmp.$$"
	# Leftovers of an interrupted setup (we hold the lock: nobody else is unpacking).
	rm -rf "$cache"/tmp.*
	mkdir -p "$tmp/dl" "$tmp/root"
	# shellcheck disable=SC2064 # expand now: $tmp is local
	trap "rm -rf '$tmp'" EXIT

	log "downloading $kernel_pkg=$kernel_version (not installing it)"
	(cd "$tmp/dl" && apt-get download -qq -o APT::Sandbox::User=root \
		"$kernel_pkg=$kernel_version" >&2) || {
		apt_update
		(cd "$tmp/dl" && apt-get download -qq -o APT::Sandbox::User=root \
			"$kernel_pkg=$kernel_version" >&2)
	}
	deb=$(find "$tmp/dl" -name '*.deb' | head -n 1)
	[ -n "$deb" ] || die "apt-get download produced no .deb"

	log "unpacking $(basename "$deb")"
	dpkg-deb -x "$deb" "$tmp/root"
	rm -rf "$tmp/dl" "$tmp/root/usr/share/doc"

	# The release inside the package can differ from its name (6.12: no "-unsigned").
	if [ -d "$tmp/root/lib/modules" ] && [ ! -L "$tmp/root/lib" ]; then
		moddir_rel=lib/modules
	elif [ -d "$tmp/root/usr/lib/modules" ]; then
		moddir_rel=usr/lib/modules
		# busybox depmod -b looks in BASE/lib/modules.
		[ -e "$tmp/root/lib" ] || ln -s usr/lib "$tmp/root/lib"
	else
		die "$kernel_pkg has no lib/modules"
	fi
	n=$(find "$tmp/root/$moddir_rel" -mindepth 1 -maxdepth 1 -type d | wc -l)
	[ "$n" -eq 1 ] || die "$kernel_pkg: expected one release under $moddir_rel, found $n"
	krel=$(basename "$(find "$tmp/root/$moddir_rel" -mindepth 1 -maxdepth 1 -type d)")

	local bz="$tmp/root/boot/vmlinuz-$krel"
	[ -f "$bz" ] || die "$kernel_pkg has no boot/vmlinuz-$krel"
	grep -q '^CONFIG_PVH=y' "$tmp/root/boot/config-$krel" ||
		log "warning: $krel lacks CONFIG_PVH=y; booting vmlinux through qboot may fail"
	log "extracting vmlinux from $(basename "$bz")"
	extract_vmlinux "$bz" "$tmp/vmlinux" || die "no compressed ELF kernel found in $bz"
	rm -f "$bz"

	local mods="$tmp/root/$moddir_rel/$krel"
	n=$(find "$mods" -name '*.ko.xz' -o -name '*.ko.zst' -o -name '*.ko.gz' | wc -l)
	if [ "$n" -gt 0 ]; then
		log "decompressing $n modules (busybox insmod/modprobe want plain .ko)"
		find "$mods" -name '*.ko.xz' -print0 | xargs -0 -r -n 64 -P "$(nproc)" xz -d
		find "$mods" -name '*.ko.zst' -print0 | xargs -0 -r -n 64 -P "$(nproc)" zstd -dq --rm
		find "$mods" -name '*.ko.gz' -print0 | xargs -0 -r -n 64 -P "$(nproc)" gzip -d
	fi
	log "busybox depmod $krel"
	busybox depmod -b "$tmp/root" "$krel"
	[ -s "$mods/modules.dep" ] || die "busybox depmod wrote no modules.dep"

	cat >"$tmp/env" <<EOF
VM_KERNEL_PKG=$kernel_pkg
VM_KERNEL_VERSION=$kernel_version
VM_KREL=$krel
VM_MODREL=$moddir_rel/$krel
EOF
	rm -rf "$dest"
	mv "$tmp" "$dest"
	trap - EXIT
}

# Module file paths (relative to the module dir), dependencies first, for each name given.
resolve_modules() { # MODDIR NAME...
	local moddir=$1
	shift
	awk -v want="$*" '
		function norm(s) { gsub(/-/, "_", s); return s }
		function base(p,   b) { b = p; sub(/.*\//, "", b); sub(/\.ko$/, "", b); return norm(b) }
		function visit(p,   n, i, d) {
			if (p in done) return
			done[p] = 1
			n = split(deps[p], d, " ")
			for (i = 1; i <= n; i++) visit(d[i])
			print p
		}
		FILENAME ~ /modules\.dep$/ {
			p = $1; sub(/:$/, "", p)
			d = $0; sub(/^[^:]*:[ \t]*/, "", d)
			deps[p] = d
			path[base(p)] = p
			next
		}
		{ builtin[base($1)] = 1 }
		END {
			n = split(want, w, " ")
			for (i = 1; i <= n; i++) {
				m = norm(w[i])
				if (m in path) visit(path[m])
				else if (!(m in builtin)) { print "missing module " w[i] > "/dev/stderr"; exit 1 }
			}
		}' "$moddir/modules.dep" "$moddir/modules.builtin"
}

# Build (or reuse) CACHE/KEY/initramfs-HASH.cpio: busybox, our init, the listed modules.
build_initramfs() { # KEYDIR MODDIR
	local keydir=$1 moddir=$2 bb hash out stage m
	bb=$(command -v busybox)
	mapfile -t mods < <(resolve_modules "$moddir" "${initramfs_modules[@]}")
	hash=$({
		sha256sum "$here/init" "$bb"
		printf '%s\n' "${mods[@]}"
	} | sha256sum | cut -c1-16)
	out="$keydir/initramfs-$hash.cpio"
	VM_INITRD=$out
	[ -s "$out" ] && return 0

	log "building initramfs ($(printf '%s ' "${mods[@]##*/}" | sed 's/\.ko//g'))"
	rm -rf "$keydir"/stage.* "$keydir"/initramfs-*.tmp.* # an interrupted build's
	stage=$(mktemp -d "$keydir/stage.XXXXXX")
	mkdir -p "$stage"/{bin,dev,proc,sys,modules,ctl,lower,rw,newroot}
	install -m 0755 "$bb" "$stage/bin/busybox"
	ln -s busybox "$stage/bin/sh"
	install -m 0755 "$here/init" "$stage/init"
	# The kernel gives init this console; without it (not root: no mknod) init opens
	# /dev/console itself once devtmpfs is mounted.
	mknod -m 600 "$stage/dev/console" c 5 1 2>/dev/null || true
	: >"$stage/modules/order"
	for m in "${mods[@]}"; do
		cp "$moddir/$m" "$stage/modules/"
		basename "$m" >>"$stage/modules/order"
	done
	(cd "$stage" && find . | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet) >"$out.tmp.$$"
	mv "$out.tmp.$$" "$out"
	rm -rf "$stage"
	# Initramfs images of older inputs: drop those not used for a day.
	find "$keydir" -maxdepth 1 -name 'initramfs-*.cpio' ! -name "${out##*/}" -mtime +1 -delete
}

main() {
	parse_args "$@"
	[ $do_packages -eq 0 ] || ensure_packages
	mkdir -p "$cache"
	cache=$(cd "$cache" && pwd -P)
	case "$cache/" in
	"$(cd "$here/../.." && pwd -P)"/*) die "the cache ($cache) must be outside the repository" ;;
	esac

	# Several sessions may share the cache: one setup at a time.
	exec 9>"$cache/lock"
	if ! flock -n 9; then
		log "waiting for another setup.sh (lock $cache/lock)"
		flock 9
	fi

	resolve_kernel
	local key="${kernel_pkg}_${kernel_version//[:~]/_}"
	local keydir="$cache/$key"
	if [ ! -s "$keydir/env" ]; then
		prepare_kernel "$keydir"
	fi
	# shellcheck disable=SC1091 # written by prepare_kernel
	. "$keydir/env"
	local moddir="$keydir/root/$VM_MODREL"
	build_initramfs "$keydir" "$moddir"

	cat <<EOF
VM_KERNEL_PKG=$VM_KERNEL_PKG
VM_KERNEL_VERSION=$VM_KERNEL_VERSION
VM_KREL=$VM_KREL
VM_VMLINUX=$keydir/vmlinux
VM_INITRD=$VM_INITRD
VM_MODDIR=$moddir
EOF
}

main "$@"
