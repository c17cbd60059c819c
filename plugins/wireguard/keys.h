/* plugins/wireguard/keys: Curve25519 keys as WireGuard uses them. */
#ifndef WGM_WG_KEYS_H
#define WGM_WG_KEYS_H

#include <stddef.h>
#include <stdint.h>
#include "device.h"

/* Base64 of a 32-byte key: 44 characters + NUL. */
#define WG_KEY_B64_LEN 45

/* A fresh private key (random, clamped) and its public key. */
int wg_key_generate(uint8_t private_key[WG_KEY_LEN], uint8_t public_key[WG_KEY_LEN]);
/* Public key of @private_key. */
int wg_key_public(const uint8_t private_key[WG_KEY_LEN], uint8_t public_key[WG_KEY_LEN]);
/* A random preshared key. */
void wg_key_preshared(uint8_t key[WG_KEY_LEN]);
/* Standard base64 (with padding), as wg and wg-quick print keys. */
void wg_key_to_base64(const uint8_t key[WG_KEY_LEN], char out[WG_KEY_B64_LEN]);
/* Exactly 44 characters of base64 encoding 32 bytes; 0 or -EINVAL. */
int wg_key_from_base64(const char *b64, uint8_t key[WG_KEY_LEN]);

#endif
