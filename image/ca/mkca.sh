#!/bin/bash
# Make a DEVELOPMENT update-signing PKI for Rexian bundles.
#
#   image/ca/mkca.sh [OUTDIR]        (default: build/ca, ignored by git)
#
# Creates, only if missing:
#   ca.key.pem / ca.cert.pem          development root CA (the device keyring)
#   signer.key.pem / signer.cert.pem  development bundle signer, issued by the CA
#   rogue.key.pem / rogue.cert.pem    a self-signed signer NOT in the keyring
#                                     (tests prove that its bundles are refused)
#
# These keys are for development and CI only.  They are generated at build time
# and must never be committed (build/ is in .gitignore).  A release build passes
# its own keyring and signer (a PKCS#11 URL works for --key) to build-image.sh /
# bundle.sh through REXIAN_KEYRING / REXIAN_SIGN_CERT / REXIAN_SIGN_KEY.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
out=${1:-$repo/build/ca}
mkdir -p "$out"
chmod 700 "$out"
cd "$out"

if [[ -s ca.cert.pem && -s signer.cert.pem && -s rogue.cert.pem ]]; then
    echo "mkca: dev PKI already in $out"
    exit 0
fi

rm -f ./*.pem ./*.csr ./*.srl ./*.ext
umask 077

openssl req -x509 -new -newkey rsa:3072 -nodes -sha256 -days 3650 \
    -keyout ca.key.pem -out ca.cert.pem \
    -subj "/O=Rexian Development/CN=Rexian DEVELOPMENT Update CA" \
    -addext "basicConstraints=critical,CA:TRUE" \
    -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null

openssl req -new -newkey rsa:3072 -nodes -sha256 \
    -keyout signer.key.pem -out signer.csr \
    -subj "/O=Rexian Development/CN=Rexian DEVELOPMENT bundle signer" 2>/dev/null
printf '%s\n' "basicConstraints=critical,CA:FALSE" \
    "keyUsage=critical,digitalSignature" \
    "subjectKeyIdentifier=hash" "authorityKeyIdentifier=keyid" > signer.ext
openssl x509 -req -in signer.csr -CA ca.cert.pem -CAkey ca.key.pem -CAcreateserial \
    -days 3650 -sha256 -extfile signer.ext -out signer.cert.pem 2>/dev/null

# A signer that is not trusted by the device: self-signed, same subject shape.
openssl req -x509 -new -newkey rsa:3072 -nodes -sha256 -days 3650 \
    -keyout rogue.key.pem -out rogue.cert.pem \
    -subj "/O=Rexian Development/CN=Rexian ROGUE signer" \
    -addext "basicConstraints=critical,CA:FALSE" \
    -addext "keyUsage=critical,digitalSignature" 2>/dev/null

rm -f signer.csr signer.ext ./*.srl
chmod 644 ./*.cert.pem
openssl verify -CAfile ca.cert.pem signer.cert.pem >/dev/null
echo "mkca: development PKI created in $out (DO NOT use for releases)"
