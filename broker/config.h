/* config.h - the broker's configuration, loaded from YAML (config.c).
 *
 * A cx_config_t is immutable once loaded: the broker holds one snapshot and
 * swaps it whole on reload (SIGHUP or `cxctl reload`), so nothing ever sees a
 * half-applied config. A config that fails to load names file, line, column and
 * the problem, and the running snapshot stays in place.
 *
 * The YAML grammar (every key optional unless noted; unknown keys are errors):
 *
 *   listen:
 *     publish: tcp://127.0.0.1:7700     # ROUTER for publishers (DEALER)
 *     deliver: tcp://127.0.0.1:7701     # ROUTER for partner adapters (DEALER)
 *     admin: ipc://var/admin.sock       # ROUTER for cxctl
 *   storage:
 *     path: var/data                    # LMDB directory, created if missing
 *     map_size: 1GiB                    # log environment map size (B, KiB, MiB, GiB, TiB)
 *     state_map_size: 1GiB              # context environment map size
 *     sync: full                        # full | batch | none
 *     retention: 7d                     # drop acked, checkpointed log entries older than this (0:
 * keep) ingest: max_event_bytes: 65536            # larger frames get CX_E_TOO_LARGE batch_max:
 * 4096                   # most events in one write transaction dedup: window: 10m # event_id
 * duplicate window by age ... window_count: 1000000             # ... and by count; both bound it
 *   checkpoint:
 *     interval: 5s                      # write dirty contexts this often ...
 *     max_dirty: 50000                  # ... or when this many customers are dirty
 *     cache_customers: 50000            # clean contexts kept in memory at most
 *   partners:                           # a list
 *     - id: acme-insurance              # required, unique, [A-Za-z0-9._-]{1,64}
 *       categories: [travel]            # consent scopes this partner falls under
 *       sees: [goals, milestones, attributes.home_city]
 *       may_publish: [offer.made]       # event types it may publish
 *       max_in_flight: 1000             # credit window (default 1000)
 *   routes:                             # a list
 *     - name: trip-insurance            # required, unique
 *       match:                          # all given keys must match the event
 *         type: milestone.reached       # glob: * matches any run, e.g. goal.*
 *         source: trips                 # glob
 *         goal.category: travel         # glob, on the event's goal (after the event)
 *         milestone: flights-booked     # glob, on the milestone name
 *         attributes.home_city: Lisbon  # glob, on the context attribute value
 *       where:                          # conditions on the context after the event
 *         goal.deadline_within: 30d     # the event's goal has a deadline in [now, now+30d]
 *         goal.progress_at_least: 0.5   # progress/target >= 0.5 (0..1)
 *         goal.progress_below: 1        # progress/target < 1
 *         has_attributes: [home_city]   # these attributes are present
 *         missing_attributes: [email]   # these attributes are absent
 *       to: [acme-insurance]            # required, known partner ids
 *       consent: required               # required (default) | not-required
 *
 * Durations: an integer followed by ms, s, m, h or d ("30d", "500ms"); a bare 0
 * is also accepted. Sizes: an integer followed by B, KiB, MiB, GiB, TiB (or KB, MB,
 * GB, TB as powers of 1024; units in any case); a bare integer is bytes.
 *
 * Defaults for what is not given: listen.publish tcp://127.0.0.1:7700,
 * listen.deliver tcp://127.0.0.1:7701, listen.admin ipc://var/admin.sock,
 * storage.path var/data, and the values in the cx_config_t comments below.
 * Relative storage.path and ipc:// paths (default or given) are resolved against
 * the config file's folder; absolute paths, abstract ipc://@NAME, the ipc
 * wildcard (a star) and tcp:// endpoints are kept as written. The three listen
 * endpoints must differ.
 *
 * Checks beyond the shape: partner ids and route names are 1..64 of
 * [A-Za-z0-9._-] and unique; a match.type without * or ? must be a known event
 * type (cx_event_type_parse); `to` names at least one partner, each once;
 * a where that can never hold (progress_at_least >= progress_below, an attribute
 * both required and missing) is an error; storage map sizes are at least 1 MiB;
 * checkpoint.interval is above 0; max_event_bytes, batch_max, max_dirty and
 * max_in_flight are at least 1. An empty file (or one with only comments) is the
 * defaults with no partners and no routes. One YAML document per file; anchors
 * and aliases work as YAML says; merge keys (<<) are not supported.
 *
 * `sees` names what of the customer's context the partner receives:
 *   goals          the goal states (without milestones)
 *   milestones     the milestones inside the goals it sees
 *   attributes     every attribute;  attributes.KEY  just that one
 *   consents       the consent list
 *   offers         the offers this partner made (never other partners' offers)
 *   activity       activity_count, last_activity, last_activity_at
 * customer_id, version and updated_at are always delivered.
 */
#ifndef CX_CONFIG_H
#define CX_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum { CX_SYNC_FULL = 0, CX_SYNC_BATCH, CX_SYNC_NONE } cx_sync_t;

/* What a partner sees of a context (bits of cx_partner_cfg_t.sees). */
enum {
    CX_SEES_GOALS = 1u << 0,
    CX_SEES_MILESTONES = 1u << 1,
    CX_SEES_ATTRIBUTES = 1u << 2, /* all attributes */
    CX_SEES_CONSENTS = 1u << 3,
    CX_SEES_OFFERS = 1u << 4,
    CX_SEES_ACTIVITY = 1u << 5,
};

typedef struct {
    char *id;
    char **categories;
    size_t n_categories;
    uint32_t sees;          /* CX_SEES_* bits */
    char **sees_attributes; /* attribute keys from attributes.KEY entries */
    size_t n_sees_attributes;
    char **may_publish; /* event type names (exact) */
    size_t n_may_publish;
    uint32_t max_in_flight;
    char *public_key; /* optional Z85 CURVE key, 40 chars */
    int line;         /* where it was defined, for messages */
} cx_partner_cfg_t;

typedef struct {
    char *key;  /* attribute key */
    char *glob; /* value glob */
} cx_attr_match_t;

typedef struct {
    char *name;
    /* match (NULL: any) */
    char *type_glob;
    char *source_glob;
    char *goal_category_glob;
    char *milestone_glob;
    cx_attr_match_t *attr_match;
    size_t n_attr_match;
    /* where */
    bool has_deadline_within;
    int64_t deadline_within_us;
    bool has_progress_at_least;
    double progress_at_least;
    bool has_progress_below;
    double progress_below;
    char **has_attributes;
    size_t n_has_attributes;
    char **missing_attributes;
    size_t n_missing_attributes;
    /* to: indexes into cx_config_t.partners */
    size_t *to;
    size_t n_to;
    bool consent_required;
    int line;
} cx_route_cfg_t;

typedef struct {
    char *path; /* the file it was loaded from ("<string>" when parsed from memory) */
    char *listen_publish;
    char *listen_deliver;
    char *listen_admin;
    char *storage_path;             /* resolved against the config file's folder */
    uint64_t map_size;              /* default 1 GiB */
    uint64_t state_map_size;        /* default 1 GiB */
    cx_sync_t sync;                 /* default full */
    int64_t retention_us;           /* default 0: keep */
    uint32_t max_event_bytes;       /* default 65536 */
    uint32_t batch_max;             /* default 4096 */
    int64_t dedup_window_us;        /* default 10 min */
    uint32_t dedup_window_count;    /* default 1,000,000 */
    int64_t checkpoint_interval_us; /* default 5 s */
    uint32_t checkpoint_max_dirty;  /* default 50,000; ingest waits at twice that */
    uint32_t cache_customers;       /* default 50,000 */
    cx_partner_cfg_t *partners;
    size_t n_partners;
    cx_route_cfg_t *routes;
    size_t n_routes;
} cx_config_t;

/* Where and why a config failed to load. */
typedef struct {
    char file[256];
    int line;          /* 1-based; 0 if not known */
    int column;        /* 1-based; 0 if not known */
    char message[512]; /* plain words, with the key path: "routes[0].to: unknown partner ..." */
} cx_config_error_t;

/* Loads and checks the YAML file at path. Relative paths inside (storage.path,
 * ipc:// endpoints) are resolved against the file's folder (made absolute and
 * canonical, so the result does not depend on a later chdir).
 * 0 and *out (caller owns; cx_config_destroy), or CX_E_CONFIG / CX_E_IO /
 * CX_E_NOMEM / CX_E_INVAL with *err filled (err may be NULL) and *out NULL.
 * CX_E_CONFIG always has a line and column; CX_E_IO carries the errno text
 * and line 0. Nothing is left allocated on failure. */
int cx_config_load(const char *path, cx_config_t **out, cx_config_error_t *err);

/* The same from memory: name is used in messages and as cfg->path (NULL:
 * "<string>"), base_dir resolves relative paths (NULL: the current directory).
 * text need not be NUL-terminated. */
int cx_config_parse(const char *text, size_t len, const char *name, const char *base_dir,
                    cx_config_t **out, cx_config_error_t *err);

/* "FILE:LINE:COL: MESSAGE" into buf ("FILE: MESSAGE" when the line is not known,
 * e.g. for CX_E_IO). Always NUL-terminated when len > 0; truncated to fit. */
void cx_config_error_format(const cx_config_error_t *err, char *buf, size_t len);

/* Frees a config and sets *self to NULL. */
void cx_config_destroy(cx_config_t **self);

/* Index of the partner with this id, or -1. */
int cx_config_partner_index(const cx_config_t *self, const char *id);

/* Parsers shared with tests: "30d" -> microseconds, "1GiB" -> bytes. 0 or CX_E_BAD_VALUE. */
int cx_parse_duration(const char *s, int64_t *out_us);
int cx_parse_size(const char *s, uint64_t *out_bytes);

/* Glob with '*' (any run, possibly empty) and '?' (one char). true on match. */
bool cx_is_glob_match(const char *glob, const char *s);

#endif
