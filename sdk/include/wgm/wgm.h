/**
 * @file wgm.h
 * @brief Everything a plugin includes: the descriptor ABI and the host table.
 */
#ifndef WGM_WGM_H
#define WGM_WGM_H
#include <wgm/abi.h>
#include <wgm/plugin.h>
#include <wgm/db.h>
#include <wgm/host.h>
#endif
