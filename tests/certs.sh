#!/bin/sh
# tests/certs.sh DIR [DNSNAME...] - a throw-away PKI for the HTTPS tests.
#
# Writes into DIR (created if missing), keys EC P-256, PEM:
#   ca.crt ca.key                  the test CA
#   good.crt good.key              from the CA; SANs: each DNSNAME and *.wild.test
#   expired.crt expired.key        from the CA; SAN mta-sts.expired.test,
#                                  valid 2020-01-01 to 2020-02-01 only
#   wrongname.crt wrongname.key    from the CA; SAN mta-sts.other.test only
#   selfsigned.crt selfsigned.key  self-signed; SAN mta-sts.selfsigned.test
#
# Quiet unless openssl fails; then its output goes to stderr and the exit
# status is 1 (2 for a usage error).  Every run makes a new CA, so files
# from different runs do not mix.
set -eu

usage() {
	echo "usage: $0 DIR [DNSNAME...]" >&2
	exit 2
}

[ $# -ge 1 ] || usage
dir=$1
shift
for n in "$@"; do
	# the names go into an openssl config file: nothing that could escape it
	case $n in
	'' | *[!A-Za-z0-9.*_-]*) echo "$0: bad DNS name '$n'" >&2; exit 2 ;;
	esac
done

umask 077
mkdir -p "$dir"
work=$(mktemp -d "${TMPDIR:-/tmp}/mxc-certs.XXXXXX")
trap 'rm -rf "$work"' EXIT
trap 'exit 1' HUP INT TERM

ossl() {
	if ! openssl "$@" >"$work/out" 2>&1; then
		cat "$work/out" >&2
		echo "$0: openssl $1 failed" >&2
		exit 1
	fi
}

newkey() {
	ossl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1"
}

# our own config, so that the system's openssl.cnf adds no extensions
cat >"$work/req.cnf" <<EOF
[req]
distinguished_name = dn
prompt = no
[dn]
CN = unused
[ca_ext]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
[self_ext]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = DNS:mta-sts.selfsigned.test
EOF

# leafext FILE SAN... - extensions of a CA-issued server certificate
leafext() {
	f=$1
	shift
	{
		echo "[leaf]"
		echo "basicConstraints = critical,CA:FALSE"
		echo "keyUsage = critical,digitalSignature"
		echo "extendedKeyUsage = serverAuth"
		echo "subjectKeyIdentifier = hash"
		echo "authorityKeyIdentifier = keyid"
		echo "subjectAltName = @alt"
		echo "[alt]"
		i=1
		for n in "$@"; do
			echo "DNS.$i = $n"
			i=$((i + 1))
		done
	} >"$f"
}

# csr NAME CN - key and request for a leaf
csr() {
	newkey "$dir/$1.key"
	ossl req -new -config "$work/req.cnf" -key "$dir/$1.key" -subj "/CN=$2" -out "$work/$1.csr"
}

# CA
newkey "$dir/ca.key"
ossl req -new -x509 -config "$work/req.cnf" -extensions ca_ext -key "$dir/ca.key" \
	-subj "/CN=mxcache test CA" -days 3650 -sha256 -out "$dir/ca.crt"

# good: every name asked for, and a wildcard
csr good "${1:-mxcache test server}"
leafext "$work/good.ext" "$@" "*.wild.test"
ossl x509 -req -in "$work/good.csr" -CA "$dir/ca.crt" -CAkey "$dir/ca.key" -set_serial 2 \
	-days 825 -sha256 -extfile "$work/good.ext" -extensions leaf -out "$dir/good.crt"

# wrongname: a valid certificate, for some other host
csr wrongname mta-sts.other.test
leafext "$work/wrongname.ext" mta-sts.other.test
ossl x509 -req -in "$work/wrongname.csr" -CA "$dir/ca.crt" -CAkey "$dir/ca.key" -set_serial 3 \
	-days 825 -sha256 -extfile "$work/wrongname.ext" -extensions leaf -out "$dir/wrongname.crt"

# expired: OpenSSL 3.0's x509 cannot date a certificate in the past; ca can
csr expired mta-sts.expired.test
leafext "$work/expired.ext" mta-sts.expired.test
mkdir "$work/newcerts"
: >"$work/index.txt"
echo 04 >"$work/serial"
cat >"$work/ca.cnf" <<EOF
[ca]
default_ca = testca
[testca]
database = $work/index.txt
new_certs_dir = $work/newcerts
serial = $work/serial
certificate = $dir/ca.crt
private_key = $dir/ca.key
default_md = sha256
policy = policy_any
unique_subject = no
[policy_any]
commonName = supplied
EOF
ossl ca -batch -notext -config "$work/ca.cnf" -in "$work/expired.csr" \
	-startdate 20200101000000Z -enddate 20200201000000Z \
	-extfile "$work/expired.ext" -extensions leaf -out "$dir/expired.crt"

# selfsigned: right name, no CA behind it
newkey "$dir/selfsigned.key"
ossl req -new -x509 -config "$work/req.cnf" -extensions self_ext -key "$dir/selfsigned.key" \
	-subj "/CN=mta-sts.selfsigned.test" -days 825 -sha256 -out "$dir/selfsigned.crt"
