#!/bin/sh
# SPDX-License-Identifier: MIT
#
# An example signing command for `fitpack --sign-command`: signs with
# `openssl pkeyutl`, using the private key whose path is in
# $FITPACK_SIGNING_KEY (a PEM file, or anything `openssl pkeyutl -inkey`
# takes). In production this is where a KMS / HSM / signing-service client
# goes; its credentials come from the environment or a file, never from
# fitpack.
#
#   FITPACK_SIGNING_KEY=keys/release.key fitpack ... \
#       --sign-command examples/fitpack/sign-with-openssl.sh \
#       --key-name release --public-key keys/release.pub.pem
#
# fitpack runs it once per signature node, with (see
# include/fitstream/sign/command_signer.hpp):
#   FITSTREAM_SIGN_ALGO      sha256,rsa2048        FITSTREAM_SIGN_KEY_NAME  release
#   FITSTREAM_SIGN_CHECKSUM  sha256                FITSTREAM_SIGN_NODE      /configurations/conf-1/signature-1
#   FITSTREAM_SIGN_CRYPTO    rsa2048 | ecdsa256    FITSTREAM_SIGN_INPUT     digest | message
#   FITSTREAM_SIGN_PADDING   pkcs-1.5 | pss        FITSTREAM_SIGN_SIZE      256 (raw signature bytes)
# standard input: the digest (or, with --sign-command-input message, the
# signed bytes, which this script hashes first); standard output: the raw
# signature (RSA), or DER / r||s (ECDSA). A non-zero exit fails the build.
set -eu

: "${FITPACK_SIGNING_KEY:?set FITPACK_SIGNING_KEY to the private key file}"

case "$FITSTREAM_SIGN_CHECKSUM" in
    sha1 | sha256 | sha384 | sha512) ;;
    *) echo "sign-with-openssl.sh: unknown checksum '$FITSTREAM_SIGN_CHECKSUM'" >&2; exit 1 ;;
esac

set -- -pkeyopt "digest:$FITSTREAM_SIGN_CHECKSUM"
case "$FITSTREAM_SIGN_CRYPTO" in
    rsa*)
        if [ "$FITSTREAM_SIGN_PADDING" = pss ]; then
            # U-Boot checks PSS with the longest salt the key allows.
            set -- "$@" -pkeyopt rsa_padding_mode:pss -pkeyopt rsa_pss_saltlen:max
        else
            set -- "$@" -pkeyopt rsa_padding_mode:pkcs1
        fi
        ;;
    ecdsa*) ;;
    *) echo "sign-with-openssl.sh: unknown crypto '$FITSTREAM_SIGN_CRYPTO'" >&2; exit 1 ;;
esac

if [ "$FITSTREAM_SIGN_INPUT" = message ]; then
    openssl dgst "-$FITSTREAM_SIGN_CHECKSUM" -binary | openssl pkeyutl -sign -inkey "$FITPACK_SIGNING_KEY" "$@"
else
    openssl pkeyutl -sign -inkey "$FITPACK_SIGNING_KEY" "$@"
fi
