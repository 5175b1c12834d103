/* test_config.c - the config loader (broker/config.c): defaults, every key of the
 * grammar in config.h, path resolution, and for each kind of mistake the exact
 * file:line:column and words ops will read. Also loads the shipped configs.
 *
 * Configs are parsed from strings named "t.yaml" with base folder /etc/cx, so
 * relative paths come out under /etc/cx. Line and column numbers in the
 * expectations are 1-based, counted in the YAML text of each test.
 */
#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "config.h"
#include "cx_error.h"

#define BASE "/etc/cx"

static cx_config_t *s_ok(const char *yaml)
{
    cx_config_t *cfg = NULL;
    cx_config_error_t err;
    int rc = cx_config_parse(yaml, strlen(yaml), "t.yaml", BASE, &cfg, &err);
    if (rc) {
        char buf[1024];
        cx_config_error_format(&err, buf, sizeof buf);
        fail_msg("expected the config to load, got %s: %s", cx_err_name(rc), buf);
    }
    assert_non_null(cfg);
    return cfg;
}

/* The parse fails with CX_E_CONFIG at line:column with exactly this message. */
static void s_fails(const char *yaml, int line, int column, const char *message)
{
    cx_config_t *cfg = (cx_config_t *)(uintptr_t)1;
    cx_config_error_t err;
    int rc = cx_config_parse(yaml, strlen(yaml), "t.yaml", BASE, &cfg, &err);
    if (rc != CX_E_CONFIG || err.line != line || err.column != column ||
        strcmp(err.message, message)) {
        char buf[1024];
        cx_config_error_format(&err, buf, sizeof buf);
        fail_msg("rc %s, error:\n  %s\nexpected:\n  t.yaml:%d:%d: %s", cx_err_name(rc), buf, line,
                 column, message);
    }
    assert_null(cfg);
    assert_string_equal(err.file, "t.yaml");
}

static const char *s_src_dir(void)
{
    const char *dir = getenv("CX_SRC_DIR");
    return dir && *dir ? dir : ".";
}

static void s_load_shipped(const char *rel)
{
    char path[PATH_MAX], buf[1024];
    cx_config_t *cfg = NULL;
    cx_config_error_t err;
    snprintf(path, sizeof path, "%s/%s", s_src_dir(), rel);
    int rc = cx_config_load(path, &cfg, &err);
    cx_config_error_format(&err, buf, sizeof buf);
    if (rc) fail_msg("%s: %s", cx_err_name(rc), buf);
    assert_non_null(cfg);
    assert_true(cfg->n_partners > 0);
    assert_true(cfg->n_routes > 0);
    assert_true(cfg->storage_path[0] == '/');
    for (size_t i = 0; i < cfg->n_routes; i++)
        for (size_t j = 0; j < cfg->routes[i].n_to; j++)
            assert_true(cfg->routes[i].to[j] < cfg->n_partners);
    cx_config_destroy(&cfg);
}

/* ---- defaults and every key ---- */

static void test_config_empty_text_gives_defaults(void **state)
{
    (void)state;
    cx_config_t *cfg = s_ok("");
    assert_string_equal(cfg->path, "t.yaml");
    assert_string_equal(cfg->listen_publish, "tcp://127.0.0.1:7700");
    assert_string_equal(cfg->listen_deliver, "tcp://127.0.0.1:7701");
    assert_string_equal(cfg->listen_admin, "ipc://" BASE "/var/admin.sock");
    assert_string_equal(cfg->storage_path, BASE "/var/data");
    assert_int_equal(cfg->map_size, 1ull << 30);
    assert_int_equal(cfg->state_map_size, 1ull << 30);
    assert_int_equal(cfg->sync, CX_SYNC_FULL);
    assert_int_equal(cfg->retention_us, 0);
    assert_int_equal(cfg->max_event_bytes, 65536);
    assert_int_equal(cfg->batch_max, 4096);
    assert_int_equal(cfg->dedup_window_us, 600ll * 1000000);
    assert_int_equal(cfg->dedup_window_count, 1000000);
    assert_int_equal(cfg->checkpoint_interval_us, 5000000);
    assert_int_equal(cfg->checkpoint_max_dirty, 50000);
    assert_int_equal(cfg->cache_customers, 50000);
    assert_int_equal(cfg->n_partners, 0);
    assert_null(cfg->partners);
    assert_int_equal(cfg->n_routes, 0);
    assert_null(cfg->routes);
    cx_config_destroy(&cfg);
    assert_null(cfg);
}

static void test_config_comments_and_empty_sections_give_defaults(void **state)
{
    (void)state;
    cx_config_t *cfg = s_ok("# nothing yet\nlisten:\nstorage: ~\npartners:\nroutes: []\n");
    assert_string_equal(cfg->listen_publish, "tcp://127.0.0.1:7700");
    assert_int_equal(cfg->map_size, 1ull << 30);
    assert_int_equal(cfg->n_partners, 0);
    assert_int_equal(cfg->n_routes, 0);
    cx_config_destroy(&cfg);
}

static void test_config_every_section_key_parsed(void **state)
{
    (void)state;
    cx_config_t *cfg = s_ok("listen:\n"
                            "  publish: tcp://0.0.0.0:9000\n"
                            "  deliver: tcp://*:9001\n"
                            "  admin: ipc:///run/cx/admin.sock\n"
                            "storage:\n"
                            "  path: /srv/cx\n"
                            "  map_size: 64GiB\n"
                            "  state_map_size: 512MiB\n"
                            "  sync: batch\n"
                            "  retention: 7d\n"
                            "ingest:\n"
                            "  max_event_bytes: 1024\n"
                            "  batch_max: 16\n"
                            "dedup:\n"
                            "  window: 90s\n"
                            "  window_count: 5\n"
                            "checkpoint:\n"
                            "  interval: 250ms\n"
                            "  max_dirty: 7\n"
                            "  cache_customers: 0\n");
    assert_string_equal(cfg->listen_publish, "tcp://0.0.0.0:9000");
    assert_string_equal(cfg->listen_deliver, "tcp://*:9001");
    assert_string_equal(cfg->listen_admin, "ipc:///run/cx/admin.sock");
    assert_string_equal(cfg->storage_path, "/srv/cx");
    assert_int_equal(cfg->map_size, 64ull << 30);
    assert_int_equal(cfg->state_map_size, 512ull << 20);
    assert_int_equal(cfg->sync, CX_SYNC_BATCH);
    assert_int_equal(cfg->retention_us, 7ll * 86400 * 1000000);
    assert_int_equal(cfg->max_event_bytes, 1024);
    assert_int_equal(cfg->batch_max, 16);
    assert_int_equal(cfg->dedup_window_us, 90ll * 1000000);
    assert_int_equal(cfg->dedup_window_count, 5);
    assert_int_equal(cfg->checkpoint_interval_us, 250000);
    assert_int_equal(cfg->checkpoint_max_dirty, 7);
    assert_int_equal(cfg->cache_customers, 0);
    cx_config_destroy(&cfg);
}

static void test_config_sync_none_parsed(void **state)
{
    (void)state;
    cx_config_t *cfg = s_ok("storage: {sync: none}\n");
    assert_int_equal(cfg->sync, CX_SYNC_NONE);
    cx_config_destroy(&cfg);
}

static void test_config_partner_fields_parsed(void **state)
{
    (void)state;
    cx_config_t *cfg = s_ok("partners:\n"
                            "  - id: acme-insurance\n"
                            "    public_key: \"rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7\"\n"
                            "    categories: [travel, insurance]\n"
                            "    sees: [goals, milestones, attributes.home_city, consents,\n"
                            "           offers, activity, attributes.email]\n"
                            "    may_publish: [offer.made, offer.accepted]\n"
                            "    max_in_flight: 50\n"
                            "  - id: crm\n"
                            "    sees: [attributes]\n");
    assert_int_equal(cfg->n_partners, 2);
    cx_partner_cfg_t *p = &cfg->partners[0];
    assert_string_equal(p->id, "acme-insurance");
    assert_string_equal(p->public_key, "rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7");
    assert_int_equal(p->n_categories, 2);
    assert_string_equal(p->categories[0], "travel");
    assert_string_equal(p->categories[1], "insurance");
    assert_int_equal(p->sees, CX_SEES_GOALS | CX_SEES_MILESTONES | CX_SEES_CONSENTS |
                                  CX_SEES_OFFERS | CX_SEES_ACTIVITY);
    assert_int_equal(p->n_sees_attributes, 2);
    assert_string_equal(p->sees_attributes[0], "home_city");
    assert_string_equal(p->sees_attributes[1], "email");
    assert_int_equal(p->n_may_publish, 2);
    assert_string_equal(p->may_publish[0], "offer.made");
    assert_string_equal(p->may_publish[1], "offer.accepted");
    assert_int_equal(p->max_in_flight, 50);
    assert_int_equal(p->line, 2);
    p = &cfg->partners[1];
    assert_string_equal(p->id, "crm");
    assert_null(p->public_key);
    assert_int_equal(p->n_categories, 0);
    assert_int_equal(p->sees, CX_SEES_ATTRIBUTES);
    assert_int_equal(p->n_sees_attributes, 0);
    assert_int_equal(p->n_may_publish, 0);
    assert_int_equal(p->max_in_flight, 1000);
    assert_int_equal(p->line, 9);
    assert_int_equal(cx_config_partner_index(cfg, "crm"), 1);
    assert_int_equal(cx_config_partner_index(cfg, "acme-insurance"), 0);
    assert_int_equal(cx_config_partner_index(cfg, "nobody"), -1);
    assert_int_equal(cx_config_partner_index(cfg, NULL), -1);
    cx_config_destroy(&cfg);
}

static void test_config_route_fields_parsed(void **state)
{
    (void)state;
    cx_config_t *cfg = s_ok("partners:\n"
                            "  - id: a\n"
                            "  - id: b\n"
                            "  - id: c\n"
                            "routes:\n"
                            "  - name: everything\n"
                            "    match:\n"
                            "      type: goal.*\n"
                            "      source: trips\n"
                            "      goal.category: trav?l\n"
                            "      milestone: flights-*\n"
                            "      attributes.home_city: Lisbon\n"
                            "      attributes.tier: gold*\n"
                            "    where:\n"
                            "      goal.deadline_within: 30d\n"
                            "      goal.progress_at_least: 0.25\n"
                            "      goal.progress_below: 1\n"
                            "      has_attributes: [home_city, email]\n"
                            "      missing_attributes: [opt_out]\n"
                            "    to: [c, a]\n"
                            "    consent: not-required\n");
    assert_int_equal(cfg->n_routes, 1);
    cx_route_cfg_t *r = &cfg->routes[0];
    assert_string_equal(r->name, "everything");
    assert_int_equal(r->line, 6);
    assert_string_equal(r->type_glob, "goal.*");
    assert_string_equal(r->source_glob, "trips");
    assert_string_equal(r->goal_category_glob, "trav?l");
    assert_string_equal(r->milestone_glob, "flights-*");
    assert_int_equal(r->n_attr_match, 2);
    assert_string_equal(r->attr_match[0].key, "home_city");
    assert_string_equal(r->attr_match[0].glob, "Lisbon");
    assert_string_equal(r->attr_match[1].key, "tier");
    assert_string_equal(r->attr_match[1].glob, "gold*");
    assert_true(r->has_deadline_within);
    assert_int_equal(r->deadline_within_us, 30ll * 86400 * 1000000);
    assert_true(r->has_progress_at_least);
    assert_true(r->progress_at_least == 0.25);
    assert_true(r->has_progress_below);
    assert_true(r->progress_below == 1.0);
    assert_int_equal(r->n_has_attributes, 2);
    assert_string_equal(r->has_attributes[0], "home_city");
    assert_string_equal(r->has_attributes[1], "email");
    assert_int_equal(r->n_missing_attributes, 1);
    assert_string_equal(r->missing_attributes[0], "opt_out");
    assert_int_equal(r->n_to, 2);
    assert_int_equal(r->to[0], 2);
    assert_int_equal(r->to[1], 0);
    assert_false(r->consent_required);
    cx_config_destroy(&cfg);
}

static void test_config_route_without_match_or_where_matches_anything(void **state)
{
    (void)state;
    cx_config_t *cfg = s_ok("partners: [{id: a}]\nroutes: [{name: all, to: [a]}]\n");
    cx_route_cfg_t *r = &cfg->routes[0];
    assert_null(r->type_glob);
    assert_null(r->source_glob);
    assert_null(r->goal_category_glob);
    assert_null(r->milestone_glob);
    assert_int_equal(r->n_attr_match, 0);
    assert_false(r->has_deadline_within);
    assert_false(r->has_progress_at_least);
    assert_false(r->has_progress_below);
    assert_int_equal(r->n_has_attributes, 0);
    assert_int_equal(r->n_missing_attributes, 0);
    assert_true(r->consent_required);
    assert_int_equal(r->line, 2);
    cx_config_destroy(&cfg);
}

static void test_config_consent_required_parsed(void **state)
{
    (void)state;
    cx_config_t *cfg =
        s_ok("partners: [{id: a}]\nroutes: [{name: r, to: [a], consent: required}]\n");
    assert_true(cfg->routes[0].consent_required);
    cx_config_destroy(&cfg);
}

static void test_config_routes_may_come_before_partners(void **state)
{
    (void)state;
    cx_config_t *cfg = s_ok("routes:\n  - {name: r, to: [b]}\npartners:\n  - id: a\n  - id: b\n");
    assert_int_equal(cfg->routes[0].to[0], 1);
    cx_config_destroy(&cfg);
}

static void test_config_anchors_and_aliases_work(void **state)
{
    (void)state;
    cx_config_t *cfg = s_ok("partners:\n"
                            "  - id: a\n"
                            "    categories: &trip [travel, holidays]\n"
                            "  - id: b\n"
                            "    categories: *trip\n");
    assert_int_equal(cfg->partners[1].n_categories, 2);
    assert_string_equal(cfg->partners[1].categories[1], "holidays");
    cx_config_destroy(&cfg);
}

/* ---- paths ---- */

static void test_config_relative_storage_path_resolves_against_base_dir(void **state)
{
    (void)state;
    cx_config_t *cfg = s_ok("storage: {path: ../var/./data/}\n");
    assert_string_equal(cfg->storage_path, "/etc/var/data");
    cx_config_destroy(&cfg);
}

static void test_config_relative_ipc_endpoint_resolves_against_base_dir(void **state)
{
    (void)state;
    cx_config_t *cfg = s_ok("listen: {admin: ipc://../var/admin.sock, deliver: ipc://d.sock}\n");
    assert_string_equal(cfg->listen_admin, "ipc:///etc/var/admin.sock");
    assert_string_equal(cfg->listen_deliver, "ipc:///etc/cx/d.sock");
    cx_config_destroy(&cfg);
}

static void test_config_absolute_and_tcp_endpoints_untouched(void **state)
{
    (void)state;
    cx_config_t *cfg = s_ok("listen:\n"
                            "  publish: tcp://localhost:7700\n"
                            "  deliver: ipc://@cx-deliver\n"
                            "  admin: ipc:///tmp/../tmp/admin.sock\n"
                            "storage:\n"
                            "  path: /var/lib/../lib/cx\n");
    assert_string_equal(cfg->listen_publish, "tcp://localhost:7700");
    assert_string_equal(cfg->listen_deliver, "ipc://@cx-deliver");
    assert_string_equal(cfg->listen_admin, "ipc:///tmp/../tmp/admin.sock");
    assert_string_equal(cfg->storage_path, "/var/lib/../lib/cx");
    cx_config_destroy(&cfg);
}

static void test_config_parse_without_base_dir_resolves_against_cwd(void **state)
{
    (void)state;
    char cwd[PATH_MAX], *real, expected[PATH_MAX + 32];
    cx_config_t *cfg = NULL;
    cx_config_error_t err;
    assert_non_null(getcwd(cwd, sizeof cwd));
    real = realpath(cwd, NULL);
    assert_non_null(real);
    snprintf(expected, sizeof expected, "%s/data", strcmp(real, "/") ? real : "");
    const char *yaml = "storage: {path: data}\n";
    assert_int_equal(cx_config_parse(yaml, strlen(yaml), NULL, NULL, &cfg, &err), 0);
    assert_string_equal(cfg->path, "<string>");
    assert_string_equal(cfg->storage_path, expected);
    free(real);
    cx_config_destroy(&cfg);
}

static void test_config_load_resolves_against_the_file_folder(void **state)
{
    (void)state;
    char dir[] = "/tmp/cx-config-XXXXXX", file[128], expected[PATH_MAX + 32], *real;
    cx_config_t *cfg = NULL;
    cx_config_error_t err;
    assert_non_null(mkdtemp(dir));
    snprintf(file, sizeof file, "%s/cx.yaml", dir);
    FILE *f = fopen(file, "w");
    assert_non_null(f);
    fputs("listen:\n  admin: ipc://run/admin.sock\nstorage:\n  path: ../cx-data\n", f);
    fclose(f);
    int rc = cx_config_load(file, &cfg, &err);
    unlink(file);
    rmdir(dir);
    assert_int_equal(rc, 0);
    real = realpath("/tmp", NULL);
    assert_non_null(real);
    snprintf(expected, sizeof expected, "%s/cx-data", real);
    assert_string_equal(cfg->storage_path, expected);
    snprintf(expected, sizeof expected, "ipc://%s/%s/run/admin.sock", real, dir + 5);
    assert_string_equal(cfg->listen_admin, expected);
    assert_string_equal(cfg->path, file);
    free(real);
    cx_config_destroy(&cfg);
}

/* ---- errors, each with its line, column and words ---- */

static void test_config_unknown_partner_names_line(void **state)
{
    (void)state;
    s_fails("partners:\n"
            "  - id: acme-insurance\n"
            "  - id: rent-a-car\n"
            "routes:\n"
            "  - name: r\n"
            "    to: [acme-insurance, acme-insurence]\n",
            6, 26,
            "routes[0].to: unknown partner 'acme-insurence' (known: acme-insurance, rent-a-car)");
}

static void test_config_unknown_partner_when_none_defined(void **state)
{
    (void)state;
    s_fails("routes:\n  - name: r\n    to: [ghost]\n", 3, 10,
            "routes[0].to: unknown partner 'ghost' (no partners are defined)");
}

static void test_config_unknown_key_in_route_lists_expected_keys(void **state)
{
    (void)state;
    s_fails("partners: [{id: p}]\n"
            "routes:\n"
            "  - name: r\n"
            "    mach: {type: goal.set}\n"
            "    to: [p]\n",
            4, 5,
            "routes[0]: unknown key 'mach' in route (expected name, match, where, to, consent)");
}

static void test_config_unknown_key_in_partner_names_line(void **state)
{
    (void)state;
    s_fails("partners:\n  - id: p\n    see: [goals]\n", 3, 5,
            "partners[0]: unknown key 'see' in partner (expected id, public_key, categories, "
            "sees, may_publish, max_in_flight)");
}

static void test_config_unknown_top_level_key_names_line(void **state)
{
    (void)state;
    s_fails("listen: {}\nstorge:\n  path: x\n", 2, 1,
            "unknown key 'storge' (expected listen, storage, ingest, dedup, checkpoint, partners, "
            "routes)");
}

static void test_config_unknown_key_in_section_names_line(void **state)
{
    (void)state;
    s_fails("storage:\n  path: x\n  mapsize: 1GiB\n", 3, 3,
            "storage: unknown key 'mapsize' (expected path, map_size, state_map_size, sync, "
            "retention)");
}

static void test_config_unknown_key_in_match_names_line(void **state)
{
    (void)state;
    s_fails("partners: [{id: p}]\n"
            "routes:\n"
            "  - name: r\n"
            "    match: {type: goal.set, category: travel}\n"
            "    to: [p]\n",
            4, 29,
            "routes[0].match: unknown key 'category' (expected type, source, goal.category, "
            "milestone, attributes.KEY)");
}

static void test_config_unknown_key_in_where_names_line(void **state)
{
    (void)state;
    s_fails("partners: [{id: p}]\n"
            "routes:\n"
            "  - name: r\n"
            "    where:\n"
            "      deadline_within: 30d\n"
            "    to: [p]\n",
            5, 7,
            "routes[0].where: unknown key 'deadline_within' (expected goal.deadline_within, "
            "goal.progress_at_least, goal.progress_below, has_attributes, missing_attributes)");
}

static void test_config_duplicate_key_names_both_lines(void **state)
{
    (void)state;
    s_fails("storage:\n  sync: full\n  path: x\n  sync: none\n", 4, 3,
            "storage: duplicate key 'sync' (first at line 2)");
}

static void test_config_bad_duration_names_value(void **state)
{
    (void)state;
    s_fails("storage:\n  retention: 30x\n", 2, 14,
            "storage.retention: bad duration '30x': expected a number and ms, s, m, h or d (e.g. "
            "30d, 500ms)");
}

static void test_config_bad_duration_in_where_names_value(void **state)
{
    (void)state;
    s_fails("partners: [{id: p}]\n"
            "routes:\n"
            "  - name: r\n"
            "    where: {goal.deadline_within: -3d}\n"
            "    to: [p]\n",
            4, 35,
            "routes[0].where.goal.deadline_within: bad duration '-3d': expected a number and ms, "
            "s, m, h or d (e.g. 30d, 500ms)");
}

static void test_config_retention_shorter_than_dedup_window_is_refused(void **state)
{
    (void)state;
    s_fails("dedup:\n  window: 10m\nstorage:\n  retention: 1m\n", 4, 14,
            "storage.retention (60s) is shorter than dedup.window (600s): a retried event_id could "
            "then be applied twice; make retention at least the window");
}

static void test_config_zero_checkpoint_interval_is_refused(void **state)
{
    (void)state;
    s_fails("checkpoint:\n  interval: 0\n", 2, 13, "checkpoint.interval: must be more than 0");
}

static void test_config_bad_size_names_value(void **state)
{
    (void)state;
    s_fails("storage:\n  map_size: 1GB2\n", 2, 13,
            "storage.map_size: bad size '1GB2': expected a number and B, KiB, MiB, GiB or TiB "
            "(e.g. 1GiB)");
}

static void test_config_tiny_map_size_is_refused(void **state)
{
    (void)state;
    s_fails("storage:\n  state_map_size: 64KiB\n", 2, 19,
            "storage.state_map_size: 64KiB is too small: use at least 1MiB");
}

static void test_config_bad_number_names_range(void **state)
{
    (void)state;
    s_fails("partners:\n  - id: p\n    max_in_flight: 0\n", 3, 20,
            "partners[0].max_in_flight: bad number '0': expected a whole number from 1 to "
            "4294967295");
    s_fails("ingest:\n  batch_max: 4096.5\n", 2, 14,
            "ingest.batch_max: bad number '4096.5': expected a whole number from 1 to 4294967295");
    s_fails("dedup:\n  window_count: 99999999999\n", 2, 17,
            "dedup.window_count: bad number '99999999999': expected a whole number from 0 to "
            "4294967295");
}

static void test_config_bad_fraction_names_range(void **state)
{
    (void)state;
    s_fails("partners: [{id: p}]\n"
            "routes:\n"
            "  - name: r\n"
            "    where:\n"
            "      goal.progress_at_least: 50%\n"
            "    to: [p]\n",
            5, 31,
            "routes[0].where.goal.progress_at_least: bad number '50%': expected a fraction from 0 "
            "to 1 (e.g. 0.5)");
}

static void test_config_where_that_never_holds_is_refused(void **state)
{
    (void)state;
    s_fails("partners: [{id: p}]\n"
            "routes:\n"
            "  - name: r\n"
            "    where:\n"
            "      goal.progress_at_least: 0.8\n"
            "      goal.progress_below: 0.5\n"
            "    to: [p]\n",
            5, 7,
            "routes[0].where: goal.progress_at_least 0.8 is not below goal.progress_below 0.5, "
            "so the route can never match");
    s_fails("partners: [{id: p}]\n"
            "routes:\n"
            "  - name: r\n"
            "    where: {has_attributes: [a, email], missing_attributes: [email]}\n"
            "    to: [p]\n",
            4, 12,
            "routes[0].where: 'email' is in both has_attributes and missing_attributes, so the "
            "route can never match");
}

static void test_config_duplicate_partner_id_names_first_line(void **state)
{
    (void)state;
    s_fails("partners:\n  - id: a\n  - id: b\n  - id: a\n", 4, 9,
            "partners[2].id: duplicate partner id 'a' (first defined at line 2)");
}

static void test_config_duplicate_route_name_names_first_line(void **state)
{
    (void)state;
    s_fails("partners: [{id: p}]\n"
            "routes:\n"
            "  - name: r\n"
            "    to: [p]\n"
            "  - name: r\n"
            "    to: [p]\n",
            5, 11, "routes[1].name: duplicate route name 'r' (first defined at line 3)");
}

static void test_config_bad_partner_id_names_allowed_characters(void **state)
{
    (void)state;
    s_fails("partners:\n  - id: acme insurance\n", 2, 9,
            "partners[0].id: bad partner id 'acme insurance': use 1 to 64 of the characters A-Z "
            "a-z 0-9 . _ -");
}

static void test_config_bad_route_name_names_allowed_characters(void **state)
{
    (void)state;
    s_fails("partners: [{id: p}]\nroutes:\n  - name: trip/insurance\n    to: [p]\n", 3, 11,
            "routes[0].name: bad route name 'trip/insurance': use 1 to 64 of the characters A-Z "
            "a-z 0-9 . _ -");
}

static void test_config_partners_not_a_list_says_expected_a_list(void **state)
{
    (void)state;
    s_fails("partners:\n  id: a\n", 2, 3, "partners: expected a list, found a mapping");
    s_fails("partners: [{id: a, categories: travel}]\n", 1, 32,
            "partners[0].categories: expected a list, found a single value (write [travel])");
}

static void test_config_section_not_a_mapping_says_expected_a_mapping(void **state)
{
    (void)state;
    s_fails("listen: [tcp://a:1]\n", 1, 9,
            "listen: expected a mapping (key: value lines), found a list");
}

static void test_config_partner_not_a_mapping_says_so(void **state)
{
    (void)state;
    s_fails("partners:\n  - acme\n", 2, 5,
            "partners[0]: expected a mapping (id: ..., sees: ...), found a single value");
}

static void test_config_list_where_a_value_belongs_says_so(void **state)
{
    (void)state;
    s_fails("storage:\n  sync: [full]\n", 2, 9,
            "storage.sync: expected a single value, found a list");
}

static void test_config_top_level_not_a_mapping_says_so(void **state)
{
    (void)state;
    s_fails("- listen\n- storage\n", 1, 1,
            "the top level must be a mapping of sections (listen, storage, partners, routes, "
            "...), found a list");
}

static void test_config_missing_partner_id_names_the_partner(void **state)
{
    (void)state;
    s_fails("partners:\n  - id: a\n  - categories: [travel]\n", 3, 5,
            "partners[1]: missing required key 'id' in partner");
}

static void test_config_missing_route_name_names_the_route(void **state)
{
    (void)state;
    s_fails("partners: [{id: p}]\nroutes:\n  - to: [p]\n", 3, 5,
            "routes[0]: missing required key 'name' in route");
}

static void test_config_missing_route_to_names_the_route(void **state)
{
    (void)state;
    s_fails("partners: [{id: p}]\nroutes:\n  - name: r\n    match: {type: goal.set}\n", 3, 5,
            "routes[0]: missing required key 'to' in route (the partner ids to deliver to)");
}

static void test_config_empty_value_points_at_its_key(void **state)
{
    (void)state;
    s_fails("partners:\n  - id:\n    sees: [goals]\n", 2, 5,
            "partners[0].id: expected a value, found nothing");
}

static void test_config_empty_to_list_is_refused(void **state)
{
    (void)state;
    s_fails("partners: [{id: p}]\nroutes:\n  - name: r\n    to: []\n", 4, 9,
            "routes[0].to: name at least one partner");
}

static void test_config_partner_listed_twice_in_to_is_refused(void **state)
{
    (void)state;
    s_fails("partners: [{id: p}]\nroutes:\n  - name: r\n    to: [p, p]\n", 4, 13,
            "routes[0].to: partner 'p' is listed twice");
}

static void test_config_bad_sync_value_lists_choices(void **state)
{
    (void)state;
    s_fails("storage:\n  sync: always\n", 2, 9,
            "storage.sync: bad value 'always': expected full, batch or none");
}

static void test_config_bad_consent_value_lists_choices(void **state)
{
    (void)state;
    s_fails("partners: [{id: p}]\nroutes:\n  - name: r\n    to: [p]\n    consent: no\n", 5, 14,
            "routes[0].consent: bad value 'no': expected required or not-required");
}

static void test_config_bad_sees_entry_lists_choices(void **state)
{
    (void)state;
    s_fails("partners:\n  - id: a\n    sees: [goals, addresses]\n", 3, 19,
            "partners[0].sees: bad entry 'addresses': expected goals, milestones, attributes, "
            "attributes.KEY, consents, offers or activity");
    s_fails("partners:\n  - id: a\n    sees: [attributes.]\n", 3, 12,
            "partners[0].sees: bad entry 'attributes.': expected goals, milestones, attributes, "
            "attributes.KEY, consents, offers or activity");
}

static void test_config_bad_may_publish_type_lists_types(void **state)
{
    (void)state;
    s_fails("partners:\n  - id: a\n    may_publish: [offer.mad]\n", 3, 19,
            "partners[0].may_publish: unknown event type 'offer.mad' (expected goal.set, "
            "goal.updated, goal.completed, goal.abandoned, milestone.reached, activity, "
            "profile.updated, consent.granted, consent.revoked, offer.made, offer.accepted, "
            "customer.erase)");
}

static void test_config_unknown_match_type_without_glob_is_refused(void **state)
{
    (void)state;
    s_fails("partners: [{id: p}]\n"
            "routes:\n"
            "  - name: r\n"
            "    match:\n"
            "      type: milestone.reachd\n"
            "    to: [p]\n",
            5, 13,
            "routes[0].match.type: unknown event type 'milestone.reachd' (expected goal.set, "
            "goal.updated, goal.completed, goal.abandoned, milestone.reached, activity, "
            "profile.updated, consent.granted, consent.revoked, offer.made, offer.accepted, "
            "customer.erase; or a glob such as goal.*)");
}

static void test_config_bad_public_key_is_refused(void **state)
{
    (void)state;
    s_fails("partners:\n  - id: a\n    public_key: short\n", 3, 17,
            "partners[0].public_key: bad CURVE public key: expected 40 Z85 characters (as "
            "zmq_curve_keypair prints them)");
}

static void test_config_bad_endpoint_names_value(void **state)
{
    (void)state;
    s_fails("listen:\n  publish: 127.0.0.1:7700\n", 2, 12,
            "listen.publish: bad endpoint '127.0.0.1:7700': expected tcp://HOST:PORT or "
            "ipc://PATH");
}

static void test_config_same_endpoint_twice_is_refused(void **state)
{
    (void)state;
    s_fails("listen:\n  publish: tcp://127.0.0.1:7701\n", 2, 12,
            "listen.deliver: same endpoint as listen.publish (tcp://127.0.0.1:7701)");
}

static void test_config_nul_in_value_is_refused(void **state)
{
    (void)state;
    s_fails("storage:\n  path: \"a\\0b\"\n", 2, 9,
            "storage.path: the value contains a NUL character");
}

static void test_config_yaml_syntax_error_names_line(void **state)
{
    (void)state;
    s_fails("partners:\n  - id: a\n    sees: [goals\nroutes: []\n", 4, 7,
            "bad YAML: did not find expected ',' or ']' (while parsing a flow sequence that "
            "starts at line 3, column 11)");
    s_fails("storage:\n  path: x\n sync: full\n", 3, 2,
            "bad YAML: did not find expected key (while parsing a block mapping that starts at "
            "line 1, column 1)");
}

static void test_config_yaml_undefined_alias_names_line(void **state)
{
    (void)state;
    s_fails("partners:\n  - id: a\n    categories: *nope\n", 3, 17,
            "bad YAML: found undefined alias");
}

static void test_config_control_character_names_line(void **state)
{
    (void)state;
    s_fails("storage:\n  path: a\x01\n", 2, 10,
            "bad YAML: control characters are not allowed (the file must be UTF-8 text)");
}

static void test_config_second_document_is_refused(void **state)
{
    (void)state;
    s_fails("storage: {sync: full}\n---\nstorage: {sync: none}\n", 2, 1,
            "a second YAML document starts here: put the whole config in one document");
}

static void test_config_every_error_leaves_out_null(void **state)
{
    (void)state;
    cx_config_t *cfg = (cx_config_t *)(uintptr_t)1;
    cx_config_error_t err;
    assert_int_equal(cx_config_parse("partners: [{id: a}, {id: a}]", 28, "x", BASE, &cfg, &err),
                     CX_E_CONFIG);
    assert_null(cfg);
    assert_int_equal(cx_config_parse(NULL, 3, "x", BASE, &cfg, &err), CX_E_INVAL);
}

static void test_config_unreadable_file_is_io_error_with_errno_text(void **state)
{
    (void)state;
    cx_config_t *cfg = NULL;
    cx_config_error_t err;
    char buf[1024];
    assert_int_equal(cx_config_load("/nonexistent/cx.yaml", &cfg, &err), CX_E_IO);
    assert_null(cfg);
    assert_string_equal(err.file, "/nonexistent/cx.yaml");
    assert_int_equal(err.line, 0);
    assert_string_equal(err.message, "cannot open: No such file or directory");
    cx_config_error_format(&err, buf, sizeof buf);
    assert_string_equal(buf, "/nonexistent/cx.yaml: cannot open: No such file or directory");
    assert_int_equal(cx_config_load("/", &cfg, &err), CX_E_IO);
    assert_string_equal(err.message, "cannot read: Is a directory");
}

static void test_config_load_error_names_the_file(void **state)
{
    (void)state;
    char dir[] = "/tmp/cx-config-XXXXXX", file[128], buf[1024];
    cx_config_t *cfg = NULL;
    cx_config_error_t err;
    assert_non_null(mkdtemp(dir));
    snprintf(file, sizeof file, "%s/bad.yaml", dir);
    FILE *f = fopen(file, "w");
    assert_non_null(f);
    fputs("# ops wrote this\nstorage:\n  sync: fsync\n", f);
    fclose(f);
    int rc = cx_config_load(file, &cfg, &err);
    unlink(file);
    rmdir(dir);
    assert_int_equal(rc, CX_E_CONFIG);
    cx_config_error_format(&err, buf, sizeof buf);
    char expected[512];
    snprintf(expected, sizeof expected,
             "%s:3:9: storage.sync: bad value 'fsync': expected full, batch or none", file);
    assert_string_equal(buf, expected);
}

static void test_config_error_format_has_file_line_column(void **state)
{
    (void)state;
    cx_config_error_t err = {.file = "config/cxbroker.yaml", .line = 14, .column = 9};
    char buf[128], tiny[8];
    snprintf(err.message, sizeof err.message, "routes[0].to: unknown partner 'x'");
    cx_config_error_format(&err, buf, sizeof buf);
    assert_string_equal(buf, "config/cxbroker.yaml:14:9: routes[0].to: unknown partner 'x'");
    cx_config_error_format(&err, tiny, sizeof tiny);
    assert_string_equal(tiny, "config/");
    err.column = 0;
    cx_config_error_format(&err, buf, sizeof buf);
    assert_string_equal(buf, "config/cxbroker.yaml:14: routes[0].to: unknown partner 'x'");
}

static void test_config_long_values_are_clipped_in_messages(void **state)
{
    (void)state;
    char yaml[512];
    cx_config_t *cfg = NULL;
    cx_config_error_t err;
    snprintf(yaml, sizeof yaml, "storage:\n  sync: %0300d\n", 7);
    assert_int_equal(cx_config_parse(yaml, strlen(yaml), "t.yaml", BASE, &cfg, &err), CX_E_CONFIG);
    assert_non_null(strstr(err.message, "'000000000000000000000000000000000000000000000000...'"));
}

/* ---- duration and size parsers ---- */

static void test_config_parse_duration_units(void **state)
{
    (void)state;
    int64_t us;
    assert_int_equal(cx_parse_duration("500ms", &us), 0);
    assert_int_equal(us, 500000);
    assert_int_equal(cx_parse_duration("2s", &us), 0);
    assert_int_equal(us, 2000000);
    assert_int_equal(cx_parse_duration("10m", &us), 0);
    assert_int_equal(us, 600000000);
    assert_int_equal(cx_parse_duration("3h", &us), 0);
    assert_int_equal(us, 3ll * 3600 * 1000000);
    assert_int_equal(cx_parse_duration("30d", &us), 0);
    assert_int_equal(us, 30ll * 86400 * 1000000);
    assert_int_equal(cx_parse_duration("0", &us), 0);
    assert_int_equal(us, 0);
    assert_int_equal(cx_parse_duration("0s", &us), 0);
    assert_int_equal(us, 0);
}

static void test_config_parse_duration_refuses_bad_text(void **state)
{
    (void)state;
    int64_t us;
    const char *bad[] = {"",
                         "30",
                         "30x",
                         "d",
                         "-1s",
                         "1.5h",
                         " 1s",
                         "1s ",
                         "1 s",
                         "1S",
                         "99999999999999999999d",
                         "106751992d",
                         NULL};
    for (int i = 0; bad[i]; i++)
        if (cx_parse_duration(bad[i], &us) != CX_E_BAD_VALUE) fail_msg("accepted '%s'", bad[i]);
    assert_int_equal(cx_parse_duration(NULL, &us), CX_E_BAD_VALUE);
    assert_int_equal(cx_parse_duration("106751991d", &us), 0);
}

static void test_config_parse_size_units(void **state)
{
    (void)state;
    uint64_t b;
    assert_int_equal(cx_parse_size("512", &b), 0);
    assert_int_equal(b, 512);
    assert_int_equal(cx_parse_size("512B", &b), 0);
    assert_int_equal(b, 512);
    assert_int_equal(cx_parse_size("4KiB", &b), 0);
    assert_int_equal(b, 4096);
    assert_int_equal(cx_parse_size("3MiB", &b), 0);
    assert_int_equal(b, 3ull << 20);
    assert_int_equal(cx_parse_size("1GiB", &b), 0);
    assert_int_equal(b, 1ull << 30);
    assert_int_equal(cx_parse_size("2TiB", &b), 0);
    assert_int_equal(b, 2ull << 40);
    assert_int_equal(cx_parse_size("1GB", &b), 0);
    assert_int_equal(b, 1ull << 30);
    assert_int_equal(cx_parse_size("8kb", &b), 0);
    assert_int_equal(b, 8192);
    assert_int_equal(cx_parse_size("16MB", &b), 0);
    assert_int_equal(b, 16ull << 20);
}

static void test_config_parse_size_refuses_bad_text(void **state)
{
    (void)state;
    uint64_t b;
    const char *bad[] = {"",       "GiB",         "1G",
                         "1.5GiB", "-1GiB",       "1 GiB",
                         "1GiBs",  "16777216TiB", "18446744073709551616",
                         NULL};
    for (int i = 0; bad[i]; i++)
        if (cx_parse_size(bad[i], &b) != CX_E_BAD_VALUE) fail_msg("accepted '%s'", bad[i]);
    assert_int_equal(cx_parse_size("16777215TiB", &b), 0);
}

/* ---- the shipped configs ---- */

static void test_config_shipped_default_config_loads(void **state)
{
    (void)state;
    char path[PATH_MAX];
    cx_config_t *cfg = NULL;
    cx_config_error_t err;
    s_load_shipped("config/cxbroker.yaml");
    snprintf(path, sizeof path, "%s/config/cxbroker.yaml", s_src_dir());
    assert_int_equal(cx_config_load(path, &cfg, &err), 0);
    assert_string_equal(cfg->listen_publish, "tcp://127.0.0.1:7700");
    assert_string_equal(cfg->listen_deliver, "tcp://127.0.0.1:7701");
    size_t n = strlen(cfg->storage_path);
    assert_true(n > 9 && !strcmp(cfg->storage_path + n - 9, "/var/data"));
    assert_null(strstr(cfg->storage_path, ".."));
    n = strlen(cfg->listen_admin);
    assert_true(n > 15 && !strcmp(cfg->listen_admin + n - 15, "/var/admin.sock"));
    assert_int_equal(cfg->sync, CX_SYNC_FULL);
    assert_int_equal(cfg->map_size, 1ull << 30);
    int acme = cx_config_partner_index(cfg, "acme-insurance");
    int swift = cx_config_partner_index(cfg, "swift-car-rental");
    int crm = cx_config_partner_index(cfg, "brand-crm");
    assert_true(acme >= 0 && swift >= 0 && crm >= 0);
    assert_int_equal(cfg->partners[acme].sees, CX_SEES_GOALS | CX_SEES_MILESTONES);
    assert_string_equal(cfg->partners[acme].sees_attributes[0], "home_city");
    assert_int_equal(cfg->n_routes, 3);
    assert_string_equal(cfg->routes[0].name, "trip-insurance");
    assert_int_equal(cfg->routes[0].to[0], (size_t)acme);
    assert_int_equal(cfg->routes[0].deadline_within_us, 60ll * 86400 * 1000000);
    assert_string_equal(cfg->routes[1].name, "car-rental-before-trip");
    assert_int_equal(cfg->routes[1].to[0], (size_t)swift);
    assert_int_equal(cfg->routes[2].to[0], (size_t)crm);
    assert_false(cfg->routes[2].consent_required);
    cx_config_destroy(&cfg);
}

static void test_config_shipped_travel_example_loads(void **state)
{
    (void)state;
    s_load_shipped("config/examples/travel.yaml");
}

static void test_config_shipped_money_example_loads(void **state)
{
    (void)state;
    s_load_shipped("config/examples/money.yaml");
}

static void test_config_destroy_null_is_safe(void **state)
{
    (void)state;
    cx_config_t *cfg = NULL;
    cx_config_destroy(&cfg);
    cx_config_destroy(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_config_empty_text_gives_defaults),
        cmocka_unit_test(test_config_comments_and_empty_sections_give_defaults),
        cmocka_unit_test(test_config_every_section_key_parsed),
        cmocka_unit_test(test_config_sync_none_parsed),
        cmocka_unit_test(test_config_partner_fields_parsed),
        cmocka_unit_test(test_config_route_fields_parsed),
        cmocka_unit_test(test_config_route_without_match_or_where_matches_anything),
        cmocka_unit_test(test_config_consent_required_parsed),
        cmocka_unit_test(test_config_routes_may_come_before_partners),
        cmocka_unit_test(test_config_anchors_and_aliases_work),
        cmocka_unit_test(test_config_relative_storage_path_resolves_against_base_dir),
        cmocka_unit_test(test_config_relative_ipc_endpoint_resolves_against_base_dir),
        cmocka_unit_test(test_config_absolute_and_tcp_endpoints_untouched),
        cmocka_unit_test(test_config_parse_without_base_dir_resolves_against_cwd),
        cmocka_unit_test(test_config_load_resolves_against_the_file_folder),
        cmocka_unit_test(test_config_unknown_partner_names_line),
        cmocka_unit_test(test_config_unknown_partner_when_none_defined),
        cmocka_unit_test(test_config_unknown_key_in_route_lists_expected_keys),
        cmocka_unit_test(test_config_unknown_key_in_partner_names_line),
        cmocka_unit_test(test_config_unknown_top_level_key_names_line),
        cmocka_unit_test(test_config_unknown_key_in_section_names_line),
        cmocka_unit_test(test_config_unknown_key_in_match_names_line),
        cmocka_unit_test(test_config_unknown_key_in_where_names_line),
        cmocka_unit_test(test_config_duplicate_key_names_both_lines),
        cmocka_unit_test(test_config_bad_duration_names_value),
        cmocka_unit_test(test_config_bad_duration_in_where_names_value),
        cmocka_unit_test(test_config_retention_shorter_than_dedup_window_is_refused),
        cmocka_unit_test(test_config_zero_checkpoint_interval_is_refused),
        cmocka_unit_test(test_config_bad_size_names_value),
        cmocka_unit_test(test_config_tiny_map_size_is_refused),
        cmocka_unit_test(test_config_bad_number_names_range),
        cmocka_unit_test(test_config_bad_fraction_names_range),
        cmocka_unit_test(test_config_where_that_never_holds_is_refused),
        cmocka_unit_test(test_config_duplicate_partner_id_names_first_line),
        cmocka_unit_test(test_config_duplicate_route_name_names_first_line),
        cmocka_unit_test(test_config_bad_partner_id_names_allowed_characters),
        cmocka_unit_test(test_config_bad_route_name_names_allowed_characters),
        cmocka_unit_test(test_config_partners_not_a_list_says_expected_a_list),
        cmocka_unit_test(test_config_section_not_a_mapping_says_expected_a_mapping),
        cmocka_unit_test(test_config_partner_not_a_mapping_says_so),
        cmocka_unit_test(test_config_list_where_a_value_belongs_says_so),
        cmocka_unit_test(test_config_top_level_not_a_mapping_says_so),
        cmocka_unit_test(test_config_missing_partner_id_names_the_partner),
        cmocka_unit_test(test_config_missing_route_name_names_the_route),
        cmocka_unit_test(test_config_missing_route_to_names_the_route),
        cmocka_unit_test(test_config_empty_value_points_at_its_key),
        cmocka_unit_test(test_config_empty_to_list_is_refused),
        cmocka_unit_test(test_config_partner_listed_twice_in_to_is_refused),
        cmocka_unit_test(test_config_bad_sync_value_lists_choices),
        cmocka_unit_test(test_config_bad_consent_value_lists_choices),
        cmocka_unit_test(test_config_bad_sees_entry_lists_choices),
        cmocka_unit_test(test_config_bad_may_publish_type_lists_types),
        cmocka_unit_test(test_config_unknown_match_type_without_glob_is_refused),
        cmocka_unit_test(test_config_bad_public_key_is_refused),
        cmocka_unit_test(test_config_bad_endpoint_names_value),
        cmocka_unit_test(test_config_same_endpoint_twice_is_refused),
        cmocka_unit_test(test_config_nul_in_value_is_refused),
        cmocka_unit_test(test_config_yaml_syntax_error_names_line),
        cmocka_unit_test(test_config_yaml_undefined_alias_names_line),
        cmocka_unit_test(test_config_control_character_names_line),
        cmocka_unit_test(test_config_second_document_is_refused),
        cmocka_unit_test(test_config_every_error_leaves_out_null),
        cmocka_unit_test(test_config_unreadable_file_is_io_error_with_errno_text),
        cmocka_unit_test(test_config_load_error_names_the_file),
        cmocka_unit_test(test_config_error_format_has_file_line_column),
        cmocka_unit_test(test_config_long_values_are_clipped_in_messages),
        cmocka_unit_test(test_config_parse_duration_units),
        cmocka_unit_test(test_config_parse_duration_refuses_bad_text),
        cmocka_unit_test(test_config_parse_size_units),
        cmocka_unit_test(test_config_parse_size_refuses_bad_text),
        cmocka_unit_test(test_config_shipped_default_config_loads),
        cmocka_unit_test(test_config_shipped_travel_example_loads),
        cmocka_unit_test(test_config_shipped_money_example_loads),
        cmocka_unit_test(test_config_destroy_null_is_safe),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
