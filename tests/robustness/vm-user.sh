#!/usr/bin/env bash
# The CUSE side of the permissions, and --user, in a qemu guest (real CUSE): runs
# vm-user-guest.sh there through scripts/vm-test.  The guest sees only the build directory
# (shared read-write with --rw), so the guest script is run from its copy there (CMake's
# configure_file puts it in BUILD/tests/robustness; by hand it is copied now).
#
# Environment (ctest sets them): TPMRM_CUSE (the daemon), TPMRM_BUILD_DIR, TPMRM_VM_TEST
# (scripts/vm-test), TPMRM_VM_GUEST (the copy).  Skips (77) without qemu; exit status 1
# when a check in the guest fails or the VM does not run.
set -u -o pipefail

here=$(cd "$(dirname "$0")" && pwd)
daemon=${TPMRM_CUSE:-${1:-}}
[ -x "$daemon" ] || {
	echo "FAIL: vm-user: no daemon: set TPMRM_CUSE" >&2
	exit 1
}
build=${TPMRM_BUILD_DIR:-$(cd "$(dirname "$daemon")/.." && pwd)}
vmtest=${TPMRM_VM_TEST:-$here/../../scripts/vm-test}
guest=${TPMRM_VM_GUEST:-$build/tests/robustness/vm-user-guest.sh}

command -v qemu-system-x86_64 >/dev/null || {
	echo "SKIP: vm-user: qemu-system-x86_64 is not installed (scripts/setup installs it for scripts/vm-test)" >&2
	exit 77
}
if [ ! -f "$guest" ] || [ "$here/vm-user-guest.sh" -nt "$guest" ]; then
	mkdir -p "$(dirname "$guest")" && cp "$here/vm-user-guest.sh" "$guest" || exit 1
fi
[ -x "$build/tests/daemon/daemon-ctl" ] || {
	echo "FAIL: vm-user: $build/tests/daemon/daemon-ctl is not built" >&2
	exit 1
}

"$vmtest" --rw "$build" --timeout 300 -- bash "$guest" "$build"
status=$?
[ "$status" = 0 ] || echo "FAIL: vm-user: the guest's checks failed (scripts/vm-test status $status)" >&2
exit $((status == 0 ? 0 : 1))
