// OpenSSL's libcrypto, for SHA-256 only: on CPUs with the SHA extensions it is about three
// times faster than libsodium's portable implementation (docs/benchmarks.md, limit (b)).
#include <openssl/evp.h>
