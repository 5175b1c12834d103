/* cxmodel.c - see cxmodel.h. */
#include "cxmodel.h"
#include "cxtest.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void cxm_customer_id(char *buf, size_t len, int c)
{
    snprintf(buf, len, "cust-%05d", c);
}

/* Builds event k for customer c and applies it to the model. */
void cxm_event(int k, int c, uint64_t *rng, model_t *m, Cx__Event *ev, char *ids, char *cid)
{
    static Cx__Goal goal;
    static Cx__Milestone ms;
    static Cx__Profile prof;
    static Cx__Attribute a1, a2, *attrs[2];
    static Cx__Consent consent;
    static Cx__Activity act;
    static char city[16], tier[8];
    cx__event__init(ev);
    snprintf(ids, 32, "ev-%07d", k);
    cxm_customer_id(cid, 32, c);
    ev->event_id = ids;
    ev->customer_id = cid;
    ev->source = "it";
    m->events++;
    if (!m->has_goal) {
        cx__goal__init(&goal);
        goal.goal_id = "g1";
        goal.category = "travel";
        goal.title = "Lisbon trip";
        goal.has_target = 1;
        goal.target = 1000;
        ev->type = "goal.set";
        ev->payload_case = CX__EVENT__PAYLOAD_GOAL;
        ev->goal = &goal;
        m->has_goal = 1;
        return;
    }
    switch (cxt_rand(rng) % 5) {
    case 0:
    case 1:
        cx__milestone__init(&ms);
        ms.goal_id = "g1";
        ms.name = "step";
        ev->type = "milestone.reached";
        ev->payload_case = CX__EVENT__PAYLOAD_MILESTONE;
        ev->milestone = &ms;
        m->milestones++;
        break;
    case 2:
        cx__profile__init(&prof);
        cx__attribute__init(&a1);
        cx__attribute__init(&a2);
        snprintf(city, sizeof city, "city%d", (int)(cxt_rand(rng) % 50));
        snprintf(tier, sizeof tier, "%d", (int)(cxt_rand(rng) % 4));
        a1.key = "home_city";
        a1.value = city;
        a2.key = "tier";
        a2.value = tier;
        attrs[0] = &a1;
        attrs[1] = &a2;
        prof.set = attrs;
        prof.n_set = 2;
        ev->type = "profile.updated";
        ev->payload_case = CX__EVENT__PAYLOAD_PROFILE;
        ev->profile = &prof;
        snprintf(m->city, sizeof m->city, "%s", city);
        m->tier = atoi(tier);
        break;
    case 3:
        cx__consent__init(&consent);
        consent.scope = "travel";
        if (m->consent_travel) {
            ev->type = "consent.revoked";
            m->consent_travel = 0;
        } else {
            ev->type = "consent.granted";
            m->consent_travel = 1;
        }
        ev->payload_case = CX__EVENT__PAYLOAD_CONSENT;
        ev->consent = &consent;
        break;
    default:
        cx__activity__init(&act);
        act.name = "viewed-hotels";
        ev->type = "activity";
        ev->payload_case = CX__EVENT__PAYLOAD_ACTIVITY;
        ev->activity = &act;
        m->activities++;
        break;
    }
}

/* Compares one stored context with the model; returns a mismatch text or NULL. */
const char *cxm_compare(const Cx__CustomerContext *ctx, const model_t *m)
{
    static char why[160];
    if (m->events == 0) return ctx ? "a context for a customer with no events" : NULL;
    if (!ctx) return "no context";
    if ((int)ctx->version != m->events) {
        snprintf(why, sizeof why, "version %llu, expected %d", (unsigned long long)ctx->version,
                 m->events);
        return why;
    }
    if (ctx->n_goals != 1 || strcmp(ctx->goals[0]->goal_id, "g1") != 0) return "goal g1 missing";
    if ((int)ctx->goals[0]->progress != m->milestones) {
        snprintf(why, sizeof why, "progress %.0f, expected %d", ctx->goals[0]->progress,
                 m->milestones);
        return why;
    }
    const char *city = NULL, *tier = NULL;
    for (size_t i = 0; i < ctx->n_attributes; i++) {
        if (strcmp(ctx->attributes[i]->key, "home_city") == 0) city = ctx->attributes[i]->value;
        if (strcmp(ctx->attributes[i]->key, "tier") == 0) tier = ctx->attributes[i]->value;
    }
    if (m->city[0] ? (!city || strcmp(city, m->city) != 0 || !tier || atoi(tier) != m->tier)
                   : city != NULL)
        return "attributes differ";
    bool travel = false;
    for (size_t i = 0; i < ctx->n_consents; i++)
        travel |= strcmp(ctx->consents[i]->scope, "travel") == 0;
    if (travel != (m->consent_travel != 0)) return "consent differs";
    if ((int)ctx->activity_count != m->activities) return "activity_count differs";
    return NULL;
}

int cxm_mismatches(cxt_broker_t *b, const model_t *models, int n, const char *when)
{
    int bad = 0;
    for (int c = 0; c < n; c++) {
        char cid[32];
        cxm_customer_id(cid, sizeof cid, c);
        Cx__AdminReply *r = cxt_admin(b, "context", cid);
        const char *why = cxm_compare(r ? r->context : NULL, &models[c]);
        if (why && bad++ < 5) fprintf(stderr, "%s: %s: %s\n", when, cid, why);
        if (r) cx__admin_reply__free_unpacked(r, NULL);
    }
    return bad;
}
