/* plugins/wireguard/keys: X25519 through libsodium. */
#include <errno.h>
#include <string.h>
#include <sodium.h>
#include "keys.h"

int wg_key_public(const uint8_t private_key[WG_KEY_LEN], uint8_t public_key[WG_KEY_LEN])
{
    return crypto_scalarmult_curve25519_base(public_key, private_key) == 0 ? 0 : -EINVAL;
}

int wg_key_generate(uint8_t private_key[WG_KEY_LEN], uint8_t public_key[WG_KEY_LEN])
{
    if (sodium_init() < 0)
        return -EIO;
    randombytes_buf(private_key, WG_KEY_LEN);
    /* Clamp as wg genkey does, so the stored key is the one the device uses. */
    private_key[0] &= 248;
    private_key[31] = (uint8_t)((private_key[31] & 127) | 64);
    return wg_key_public(private_key, public_key);
}

void wg_key_preshared(uint8_t key[WG_KEY_LEN])
{
    randombytes_buf(key, WG_KEY_LEN);
}

void wg_key_to_base64(const uint8_t key[WG_KEY_LEN], char out[WG_KEY_B64_LEN])
{
    sodium_bin2base64(out, WG_KEY_B64_LEN, key, WG_KEY_LEN, sodium_base64_VARIANT_ORIGINAL);
}

int wg_key_from_base64(const char *b64, uint8_t key[WG_KEY_LEN])
{
    size_t len = 0;
    if (!b64 || strlen(b64) != WG_KEY_B64_LEN - 1 || b64[WG_KEY_B64_LEN - 2] != '=')
        return -EINVAL;
    if (sodium_base642bin(key, WG_KEY_LEN, b64, WG_KEY_B64_LEN - 1, NULL, &len, NULL, sodium_base64_VARIANT_ORIGINAL) != 0 ||
        len != WG_KEY_LEN)
        return -EINVAL;
    return 0;
}
