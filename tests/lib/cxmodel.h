/* cxmodel.h - the tests' own model of customer contexts, independent of the
 * broker's reducer: a generator of events (goal.set, milestone.reached,
 * profile.updated, consent granted/revoked, activity) and the context fields
 * those events must produce. Shared by it_ingest and the crash trials.
 */
#ifndef CXMODEL_H
#define CXMODEL_H

#include "cx.h"
#include "cxtest.h"

typedef struct {
    int events; /* version */
    int has_goal;
    int milestones; /* = progress, each milestone adds 1 */
    char city[16];
    int tier;
    int consent_travel;
    int activities;
} model_t;

/* customer id of customer c: "cust-%05d". */
void cxm_customer_id(char *buf, size_t len, int c);
/* Builds event k ("ev-%07d") for customer c into ev, applying it to *m. ids and
 * cid are caller buffers of 32 bytes; payloads live in static storage until the
 * next call. */
void cxm_event(int k, int c, uint64_t *rng, model_t *m, Cx__Event *ev, char *ids, char *cid);
/* NULL if ctx matches m, else why not. ctx NULL: the customer is unknown. */
const char *cxm_compare(const Cx__CustomerContext *ctx, const model_t *m);

/* Reads the context of customers 0..n-1 from the broker's admin endpoint and
 * compares each with models[c]; prints the first few differences on stderr,
 * prefixed with `when`. Returns how many differ. */
int cxm_mismatches(cxt_broker_t *b, const model_t *models, int n, const char *when);

#endif
