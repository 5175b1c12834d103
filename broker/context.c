/* context.c - read-only lookups in a customer's context (declared in reducer.h).
 *
 * Shared by the reducer, the router and delivery; linear scans, because a
 * context holds at most a few dozen goals and attributes (reducer.h bounds).
 */
#include <string.h>

#include "reducer.h"

Cx__GoalState *cx_context_find_goal(const Cx__CustomerContext *ctx, const char *goal_id)
{
    if (!ctx || !goal_id) return NULL;
    for (size_t i = 0; i < ctx->n_goals; i++)
        if (ctx->goals[i]->goal_id && strcmp(ctx->goals[i]->goal_id, goal_id) == 0)
            return ctx->goals[i];
    return NULL;
}

const char *cx_context_attribute(const Cx__CustomerContext *ctx, const char *key)
{
    if (!ctx || !key) return NULL;
    for (size_t i = 0; i < ctx->n_attributes; i++)
        if (ctx->attributes[i]->key && strcmp(ctx->attributes[i]->key, key) == 0)
            return ctx->attributes[i]->value;
    return NULL;
}
