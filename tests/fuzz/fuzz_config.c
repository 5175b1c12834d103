/* fuzz_config.c - libFuzzer target for the config loader (broker/config.c).
 *
 * Bytes -> cx_config_parse -> cx_config_destroy. Besides "no crash, no leak"
 * (ASan and its leak check), it holds the loader to its promises: a failed
 * parse leaves *out NULL and says where (every CX_E_CONFIG has a line and a
 * column) and what; a config that loads is consistent (route targets are real
 * partners, partner ids resolve to themselves, paths are absolute).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "cx_error.h"

static void s_check_loaded(const cx_config_t *cfg)
{
    if (cfg->storage_path[0] != '/') abort();
    for (size_t i = 0; i < cfg->n_partners; i++)
        if (cx_config_partner_index(cfg, cfg->partners[i].id) != (int)i) abort();
    for (size_t i = 0; i < cfg->n_routes; i++) {
        const cx_route_cfg_t *r = &cfg->routes[i];
        if (!r->name || r->n_to == 0 || r->line < 1) abort();
        for (size_t j = 0; j < r->n_to; j++)
            if (r->to[j] >= cfg->n_partners) abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    cx_config_t *cfg = NULL;
    cx_config_error_t err;
    char buf[1024];
    int rc = cx_config_parse((const char *)data, size, "fuzz.yaml", "/tmp/cx", &cfg, &err);
    if (rc == 0) {
        if (!cfg) abort();
        s_check_loaded(cfg);
        cx_config_destroy(&cfg);
        if (cfg) abort();
        return 0;
    }
    if (cfg) abort();
    if (rc == CX_E_CONFIG && (err.line < 1 || err.column < 1 || !err.message[0])) abort();
    cx_config_error_format(&err, buf, sizeof buf);
    return 0;
}
