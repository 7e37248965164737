#!/bin/bash
# Drives `whycache del --prefix PREFIX` on the backend named by $2 (file or mysql): it deletes
# exactly the keys that start with PREFIX (the key equal to it included, not a key that PREFIX
# merely starts with), prints the id as `del` does, shows in `tail` as ID<TAB>del-prefix<TAB>PREFIX
# with the escaping of keys, takes --token and --prefix=PREFIX, and replays the same on a machine
# that starts from nothing. An empty prefix, a prefix with keys, or two prefixes are usage errors
# (exit 2) that append nothing. The expected states are spelled out here from the writes made.
set -u
source "$(dirname "$0")/cli_test_lib.sh"
dataset_test_begin "$1" "$2"
expect_status 0 init

# Ids 1-2: keys under user:1: and user:2:, and neighbours of user:1: that are not under it.
expect_status 0 set user:1: self user:1:a 1a user:1:b 1b user:1:b:deep 1bd \
  user:2:a 2a user:2:b 2b user:1 short user:10:x ten user:1\; after
expect_out 1
expect_status 0 set "user:1:sp ace" 1sp
expect_out 2

expect_status 0 del --prefix user:1:
expect_out 3
expect_status 0 tail --from 2
expect_out "3	del-prefix	user:1:"
expect_status 0 scan user:
expect_out "user:1	short
user:10:x	ten
user:1;	after
user:2:a	2a
user:2:b	2b"
expect_status 1 get user:1:a
expect_mentions err "key 'user:1:a' not found"
expect_status 1 get user:1:
expect_status 0 get user:2:b
expect_out 2b

# A set after the prefix delete stands; a prefix no key starts with is appended and changes
# nothing; --prefix=PREFIX is the same flag.
expect_status 0 set user:1:new n
expect_out 4
expect_status 0 del --prefix no-such-prefix:
expect_out 5
expect_status 0 del --prefix=user:2:b
expect_out 6
expect_status 0 scan user:
expect_out "user:1	short
user:10:x	ten
user:1:new	n
user:1;	after
user:2:a	2a"

# Bytes outside printable ASCII and a tab, in keys and in the prefix: taken byte for byte, and
# escaped in tail as keys are.
expect_status 0 set $'bin\t\xff:1' one $'bin\t\xff:2' two $'bin\t\xfe:1' other $'bin\t\xff' self
expect_out 7
expect_status 0 del --prefix $'bin\t\xff:'
expect_out 8
expect_status 0 tail --from 7
expect_out '8	del-prefix	bin\x09\xff:'
expect_status 0 scan bin
expect_out 'bin\x09\xfe:1	other
bin\x09\xff	self'

# --token: a retry with the same token prints the first id and appends nothing.
expect_status 0 set tok:1 a tok:2 b
expect_out 9
expect_status 0 del --token 0123456789abcdef0123456789abcdef --prefix tok:
expect_out 10
expect_status 0 del --prefix tok: --token 0123456789ABCDEF0123456789ABCDEF
expect_out 10
expect_status 2 del --token 0123 --prefix tok:
expect_mentions err "32 hex digits"

# The whole log as written, from the start.
expect_status 0 tail
cp "$WORK/out" "$WORK/tail.before"
expect_out '1	set	user:1:	self
1	set	user:1:a	1a
1	set	user:1:b	1b
1	set	user:1:b:deep	1bd
1	set	user:2:a	2a
1	set	user:2:b	2b
1	set	user:1	short
1	set	user:10:x	ten
1	set	user:1;	after
2	set	user:1:sp ace	1sp
3	del-prefix	user:1:
4	set	user:1:new	n
5	del-prefix	no-such-prefix:
6	del-prefix	user:2:b
7	set	bin\x09\xff:1	one
7	set	bin\x09\xff:2	two
7	set	bin\x09\xfe:1	other
7	set	bin\x09\xff	self
8	del-prefix	bin\x09\xff:
9	set	tok:1	a
9	set	tok:2	b
10	del-prefix	tok:'

# Refusals: exit 2, one line naming the flag, and nothing appended.
expect_status 2 del --prefix ""
expect_mentions err "del: --prefix needs a non-empty PREFIX: an empty one would delete every key"
expect_one_line_err
expect_status 2 del --prefix=
expect_mentions err "--prefix needs a non-empty PREFIX"
expect_status 2 --log "" del --prefix ""
expect_mentions err "--prefix needs a non-empty PREFIX"
expect_status 2 del --prefix user:2: user:2:a
expect_mentions err "del: give KEYs or --prefix PREFIX, not both (see whycache del --help)"
expect_one_line_err
expect_status 2 del user:2:a --prefix user:2:
expect_mentions err "not both"
expect_status 2 del --prefix user:2: --prefix user:1
expect_mentions err "del: --prefix takes one PREFIX per update"
expect_one_line_err
expect_status 2 del --prefix
expect_mentions err "del: --prefix needs a value"
expect_status 0 tail
cmp -s "$WORK/out" "$WORK/tail.before" || fail "a refused del --prefix appended: $(cat "$WORK/out")"
expect_status 0 set after refusals
expect_out 11

# The state, on this machine and on one that replays the log from nothing, and each equals the
# log replayed.
expected_all='after	refusals
bin\x09\xfe:1	other
bin\x09\xff	self
user:1	short
user:10:x	ten
user:1:new	n
user:1;	after
user:2:a	2a'
expect_status 0 scan
expect_out "$expected_all"
expect_status 0 check --against-log
expect_out ok
expect_status 0 --state "$WORK/fresh.state" scan
expect_out "$expected_all"
expect_status 0 --state "$WORK/fresh.state" check --against-log
expect_out ok

cli_test_end
