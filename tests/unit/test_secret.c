/* Master key handling and sealing. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "secret.h"
#include "tap.h"

int main(void)
{
    char dir[] = "/tmp/wgm-test-secret.XXXXXX", path[256], err[512], *sealed, *sealed2, *plain;
    struct wgm_keyring *k, *k2;
    struct stat st;
    size_t len;

    if (!mkdtemp(dir))
        return 1;
    snprintf(path, sizeof(path), "%s/master.key", dir);
    is_int(wgm_keyring_open(path, &k, err, sizeof(err)), 0, "first start creates the key");
    stat(path, &st);
    is_int(st.st_mode & 0777, 0600, "key file is 0600");
    is_int(st.st_size, 32, "key is 32 bytes");

    is_int(wgm_secret_seal(k, "private-key-material", 20, &sealed), 0, "seal");
    ok(strncmp(sealed, "wgm1.", 5) == 0 && !strstr(sealed, "private"), "sealed text is opaque: %s", sealed);
    is_int(wgm_secret_seal(k, "private-key-material", 20, &sealed2), 0, "seal again");
    ok(strcmp(sealed, sealed2) != 0, "nonces differ");
    is_int(wgm_secret_open(k, sealed, &plain, &len), 0, "open");
    ok(len == 20 && memcmp(plain, "private-key-material", 20) == 0 && plain[20] == '\0', "round trip");
    wgm_secret_free(plain, len);

    /* Reopen with the same file: same key. */
    is_int(wgm_keyring_open(path, &k2, err, sizeof(err)), 0, "reopen existing key");
    is_int(wgm_secret_open(k2, sealed, &plain, &len), 0, "opens with the reloaded key");
    wgm_secret_free(plain, len);
    k2 = wgm_keyring_close(k2);

    /* Forgery and truncation. */
    sealed[strlen(sealed) - 3] ^= 1;
    is_int(wgm_secret_open(k, sealed, &plain, &len), -EBADMSG, "tampered token refused");
    is_int(wgm_secret_open(k, "wgm1.", &plain, &len), -EBADMSG, "empty token refused");
    is_int(wgm_secret_open(k, "plaintext", &plain, &len), -EBADMSG, "unprefixed text refused");
    is_int(wgm_secret_open(k, "wgm1.!!!!", &plain, &len), -EBADMSG, "bad base64 refused");
    free(sealed);

    /* Another key cannot open it. */
    {
        char other[300];
        snprintf(other, sizeof(other), "%s/other.key", dir);
        is_int(wgm_keyring_open(other, &k2, err, sizeof(err)), 0, "second key");
        is_int(wgm_secret_open(k2, sealed2, &plain, &len), -EBADMSG, "foreign key refused");
        k2 = wgm_keyring_close(k2);
    }
    free(sealed2);

    /* Permissions and size are checked, not repaired. */
    chmod(path, 0644);
    is_int(wgm_keyring_open(path, &k2, err, sizeof(err)), -EPERM, "0644 key refused");
    ok(strstr(err, "0644") && strstr(err, "0600"), "reason names the modes: %s", err);
    chmod(path, 0600);
    truncate(path, 16);
    is_int(wgm_keyring_open(path, &k2, err, sizeof(err)), -EINVAL, "short key refused");
    ok(strstr(err, "32 bytes") != NULL, "reason names the size: %s", err);
    snprintf(path, sizeof(path), "%s/nodir/master.key", dir);
    ok(wgm_keyring_open(path, &k2, err, sizeof(err)) < 0, "unwritable location refused: %s", err);

    wgm_keyring_close(k);
    snprintf(path, sizeof(path), "rm -rf '%s'", dir);
    if (system(path) != 0)
        return 1;
    return done_testing();
}
