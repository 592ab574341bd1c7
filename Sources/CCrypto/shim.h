// SHA-256 from the system's libcrypto (OpenSSL 3 on Debian 12, the library libcurl uses).
// The low-level SHA256_* calls are deprecated in OpenSSL 3 in favour of EVP, but they run the
// same CPU-specific code without EVP's per-call provider lookup, which made one-shot digests
// of small bodies slower than hand-written Swift.
#ifndef PLANSYNC_CCRYPTO_SHIM_H
#define PLANSYNC_CCRYPTO_SHIM_H

#define OPENSSL_SUPPRESS_DEPRECATED 1
#include <openssl/sha.h>
#include <openssl/hmac.h>
#include <openssl/evp.h>
#include <stddef.h>

/// One incremental SHA-256 computation.
typedef struct { SHA256_CTX context; } plansync_sha256;

static inline void plansync_sha256_init(plansync_sha256 *hash) { SHA256_Init(&hash->context); }
static inline void plansync_sha256_update(plansync_sha256 *hash, const void *bytes, size_t count) {
    SHA256_Update(&hash->context, bytes, count);
}
/// Writes the 32-byte digest into `digest`.
static inline void plansync_sha256_final(plansync_sha256 *hash, unsigned char *digest) { SHA256_Final(digest, &hash->context); }

/// HMAC-SHA256 of `bytes` with `key`; writes the 32-byte code into `mac`.
static inline void plansync_hmac_sha256(const void *key, size_t keyCount, const void *bytes, size_t count, unsigned char *mac) {
    unsigned int length = 32;
    HMAC(EVP_sha256(), key, (int)keyCount, (const unsigned char *)bytes, count, mac, &length);
}

#endif
