# poll_until, for the integration tests (lib.sh) and scripts/soak; sourced,
# not run. The sourcing script defines fail MESSAGE (which exits).

# poll_until SECONDS WHAT CMD...: runs CMD until it succeeds; fails after
# SECONDS. For conditions that exist only in the database or in another
# process's output (how many batches are done, whose session is gone,
# what a running crawler has said): PostgreSQL and a running crawler give
# the caller no event to block on, so the condition itself is asked again
# every 50 ms until it holds or the deadline passes. This is the only
# such loop.
poll_until() {
	local deadline=$((SECONDS + $1)) what=$2
	shift 2
	until "$@"; do
		[ "$SECONDS" -lt "$deadline" ] || fail "timed out waiting for: $what"
		sleep 0.05
	done
}
