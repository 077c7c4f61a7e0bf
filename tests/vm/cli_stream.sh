# acrypto digest and acrypto mac on kernel devices only (manifest line
# cli_stream): every input streams through the engine in 1 MiB updates
# (more than the module's max_buffer, so kdev cuts each into pieces), and
# the result equals the openssl command's. Runs chrooted in the host root;
# $B holds the acrypto binary.
set -u
B=${B:?}
tag=${T_TAG:-}
w=/run/cli-stream-test
mkdir -p $w
A=$w/acrypto
cp "$B/acrypto" $A || exit 1
failed=0
check() {	# NAME WANT GOT
	if [ -n "$2" ] && [ "$2" = "$3" ]; then
		echo "RESULT PASS ${tag}$1: $3"
	else
		echo "RESULT FAIL ${tag}$1: got '$3', want '$2'"
		failed=1
	fi
}
# 2 MiB and 3 bytes of random data (three updates), and an empty file.
head -c 2097155 /dev/urandom >$w/in.bin
: >$w/empty.bin
key=000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f2021
for f in in.bin empty.bin; do
	for d in sha1 sha256; do
		want=$(openssl dgst -$d -r $w/$f | cut -d' ' -f1)
		for devs in kdev afalg kdev:$d-generic; do
			got=$($A --devices $devs digest -a $d -i $w/$f 2>&1)
			check "digest -a $d $f on --devices $devs" "$want" "$got"
		done
		want=$(openssl dgst -$d -mac HMAC -macopt hexkey:$key -r $w/$f | cut -d' ' -f1)
		for devs in kdev afalg; do
			got=$($A --devices $devs mac -a hmac-$d -K $key -i $w/$f 2>&1)
			check "mac -a hmac-$d $f on --devices $devs" "$want" "$got"
		done
	done
done
# stdin too
want=$(openssl dgst -sha256 -r $w/in.bin | cut -d' ' -f1)
got=$($A --devices kdev digest -a sha256 <$w/in.bin 2>&1)
check "digest -a sha256 of stdin on --devices kdev" "$want" "$got"
rm -rf $w
exit $failed
