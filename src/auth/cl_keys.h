/*
 * The keys directory: where carelake keeps the secrets that must not live
 * beside the data they protect — the pseudonym key and the date-shift key
 * of de-identified exports, the audit trail's signing key. A key vault
 * (Azure Key Vault's CSI driver, Vault Agent, a Kubernetes secret) mounts
 * here. The directory is `--keys DIR`, else $CARELAKE_KEYS, else the data
 * directory's sibling "<data>.keys"; it is made with mode 0700 and each
 * key, on first use, as random bytes in a file of mode 0600. A key file
 * of the wrong size, or readable by others, is refused rather than used.
 */
#ifndef CL_KEYS_H
#define CL_KEYS_H

#include <stddef.h>

/* The keys directory for data_dir: `given` if not NULL or empty, else
 * $CARELAKE_KEYS, else "<data_dir>.keys". CL_EINVAL if it does not fit. */
int cl_keys_dir(const char *given, const char *data_dir, char *out, size_t cap);

/*
 * The secret `name` (a file name: letters, digits, '-', '_', '.') of
 * keys_dir, len bytes (16..64) into out; made with random bytes on first
 * use (the directory too). CL_EINVAL when the file exists with another
 * size or is readable by group or others (the detail says which), CL_EIO
 * when it cannot be read or made.
 */
int cl_keys_secret(const char *keys_dir, const char *name, unsigned char *out, size_t len);

#endif
