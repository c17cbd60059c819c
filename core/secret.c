/* core/secret: master key file handling and XChaCha20-Poly1305 sealing. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <sodium.h>
#include "secret.h"

#define KEY_BYTES crypto_aead_xchacha20poly1305_ietf_KEYBYTES
#define NONCE_BYTES crypto_aead_xchacha20poly1305_ietf_NPUBBYTES
#define TAG_BYTES crypto_aead_xchacha20poly1305_ietf_ABYTES
#define PREFIX "wgm1."
#define B64 sodium_base64_VARIANT_URLSAFE_NO_PADDING

struct wgm_keyring {
    unsigned char *key; /* sodium_malloc: guarded, locked, wiped on free */
};

static int create_key(const char *path, unsigned char *key, size_t keylen, char *err, size_t errlen)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    ssize_t w;

    if (fd < 0) {
        int r = -errno;
        snprintf(err, errlen, "cannot create key %s: %s", path, strerror(errno));
        return r;
    }
    randombytes_buf(key, keylen);
    w = write(fd, key, keylen);
    if (w != (ssize_t)keylen || fsync(fd) < 0) {
        int r = w < 0 ? -errno : -EIO;
        close(fd);
        unlink(path);
        snprintf(err, errlen, "cannot write key %s", path);
        return r;
    }
    close(fd);
    return 0;
}

static int read_key(const char *path, unsigned char *key, size_t keylen, char *err, size_t errlen)
{
    struct stat st;
    ssize_t n;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);

    if (fd < 0) {
        int r = -errno;
        snprintf(err, errlen, "cannot read key %s: %s", path, strerror(errno));
        return r;
    }
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        snprintf(err, errlen, "key %s is not a regular file", path);
        return -EINVAL;
    }
    /* A key others can read is a leaked key: refuse rather than fix it silently. */
    if (st.st_mode & 077) {
        close(fd);
        snprintf(err, errlen, "key %s has mode %04o; it must be 0600 (chmod 600 %s)", path,
                 (unsigned)(st.st_mode & 07777), path);
        return -EPERM;
    }
    if (st.st_uid != geteuid()) {
        close(fd);
        snprintf(err, errlen, "key %s is owned by uid %u, not by wgmd (uid %u)", path,
                 (unsigned)st.st_uid, (unsigned)geteuid());
        return -EPERM;
    }
    n = read(fd, key, keylen);
    close(fd);
    if (n != (ssize_t)keylen || st.st_size != (off_t)keylen) {
        snprintf(err, errlen, "key %s must be exactly %zu bytes", path, keylen);
        return -EINVAL;
    }
    return 0;
}

int wgm_keyfile_load(const char *path, unsigned char *key, size_t keylen, char *err, size_t errlen)
{
    if (access(path, F_OK) < 0 && errno == ENOENT)
        return create_key(path, key, keylen, err, errlen);
    return read_key(path, key, keylen, err, errlen);
}

int wgm_keyring_open(const char *path, struct wgm_keyring **out, char *err, size_t errlen)
{
    struct wgm_keyring *k;
    int r;

    if (sodium_init() < 0) {
        snprintf(err, errlen, "libsodium failed to initialise");
        return -EIO;
    }
    k = calloc(1, sizeof(*k));
    if (!k || !(k->key = sodium_malloc(KEY_BYTES))) {
        free(k);
        snprintf(err, errlen, "out of memory");
        return -ENOMEM;
    }
    r = wgm_keyfile_load(path, k->key, KEY_BYTES, err, errlen);
    if (r < 0) {
        wgm_keyring_close(k);
        return r;
    }
    sodium_mprotect_readonly(k->key);
    *out = k;
    return 0;
}

struct wgm_keyring *wgm_keyring_close(struct wgm_keyring *k)
{
    if (!k)
        return NULL;
    sodium_free(k->key);
    free(k);
    return NULL;
}

int wgm_secret_seal(const struct wgm_keyring *k, const void *plain, size_t len, char **sealed)
{
    size_t raw_len = NONCE_BYTES + len + TAG_BYTES;
    size_t b64_len = sodium_base64_ENCODED_LEN(raw_len, B64);
    unsigned char *raw;
    char *out;

    if (len > 1u << 20)
        return -E2BIG;
    raw = malloc(raw_len);
    out = malloc(sizeof(PREFIX) - 1 + b64_len);
    if (!raw || !out) {
        free(raw);
        free(out);
        return -ENOMEM;
    }
    randombytes_buf(raw, NONCE_BYTES);
    crypto_aead_xchacha20poly1305_ietf_encrypt(raw + NONCE_BYTES, NULL, plain, len,
                                               (const unsigned char *)PREFIX, sizeof(PREFIX) - 1,
                                               NULL, raw, k->key);
    memcpy(out, PREFIX, sizeof(PREFIX) - 1);
    sodium_bin2base64(out + sizeof(PREFIX) - 1, b64_len, raw, raw_len, B64);
    free(raw);
    *sealed = out;
    return 0;
}

int wgm_secret_open(const struct wgm_keyring *k, const char *sealed, char **plain, size_t *len)
{
    size_t slen, raw_len, plain_len;
    unsigned char *raw = NULL;
    char *out = NULL;
    int r = -EBADMSG;

    if (!sealed || strncmp(sealed, PREFIX, sizeof(PREFIX) - 1) != 0)
        return -EBADMSG;
    sealed += sizeof(PREFIX) - 1;
    slen = strlen(sealed);
    raw = malloc(slen + 1);
    if (!raw)
        return -ENOMEM;
    if (sodium_base642bin(raw, slen + 1, sealed, slen, NULL, &raw_len, NULL, B64) < 0 ||
        raw_len < NONCE_BYTES + TAG_BYTES)
        goto out;
    plain_len = raw_len - NONCE_BYTES - TAG_BYTES;
    /* Plain malloc, wiped on free: sodium_malloc's guard pages cost
     * several system calls per secret, and reconciliation opens thousands. */
    out = malloc(plain_len + 1);
    if (!out) {
        r = -ENOMEM;
        goto out;
    }
    if (crypto_aead_xchacha20poly1305_ietf_decrypt((unsigned char *)out, NULL, NULL, raw + NONCE_BYTES,
                                                   raw_len - NONCE_BYTES, (const unsigned char *)PREFIX,
                                                   sizeof(PREFIX) - 1, raw, k->key) < 0) {
        sodium_memzero(out, plain_len + 1);
        free(out);
        out = NULL;
        goto out;
    }
    out[plain_len] = '\0';
    *plain = out;
    if (len)
        *len = plain_len;
    r = 0;
out:
    free(raw);
    return r;
}

void wgm_secret_free(void *plain, size_t len)
{
    if (plain) {
        sodium_memzero(plain, len + 1); /* the plaintext and its NUL */
        free(plain);
    }
}
