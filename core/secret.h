/* core/secret: the master key and sealing of secrets at rest.
 *
 * The key is 32 random bytes in a 0600 file owned by wgmd's user, created on
 * first start.  A sealed secret is "wgm1." + base64url(nonce || ciphertext)
 * under XChaCha20-Poly1305, so it can live in any text column. */
#ifndef WGM_CORE_SECRET_H
#define WGM_CORE_SECRET_H

#include <stddef.h>

struct wgm_keyring;

/* Read @keylen bytes of key from @path, or create the file (0600, random)
 * when absent.  The same checks as the master key: 0600, our owner, exact
 * size.  0 or a negative errno with the reason in @err. */
int wgm_keyfile_load(const char *path, unsigned char *key, size_t keylen, char *err, size_t errlen);

/* Load the key at @path, creating it (0600) when absent.  A key file with
 * group/other permissions, another owner, or the wrong size is an error:
 * 0 or a negative errno with the reason in @err. */
int wgm_keyring_open(const char *path, struct wgm_keyring **out, char *err, size_t errlen);
struct wgm_keyring *wgm_keyring_close(struct wgm_keyring *k);

/* @sealed is new (free()). */
int wgm_secret_seal(const struct wgm_keyring *k, const void *plain, size_t len, char **sealed);
/* @plain is new, NUL-terminated, to be released with wgm_secret_free.
 * -EBADMSG for a forged, truncated or foreign token. */
int wgm_secret_open(const struct wgm_keyring *k, const char *sealed, char **plain, size_t *len);
/* Wipe and free a plaintext from wgm_secret_open.  Accepts NULL. */
void wgm_secret_free(void *plain, size_t len);

#endif
