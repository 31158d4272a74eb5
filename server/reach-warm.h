/* git-nearby: reach sets walked ahead of the requests that need them.
 *
 * The first fetch of a branch needs the set of commits its tip reaches
 * (reach.h); a long history makes that walk the slowest part of the fetch.
 * So the sets are made beforehand: when the server starts, when a branch is
 * opted in and when a tip moves, by one thread of its own at low priority
 * (nice 10), one repository at a time, without the lock requests take
 * (branch-jobs.c): a request that comes during a walk ahead is not held
 * behind it, and a request's set replaces the walk's. A stop cancels the
 * walk in progress.
 *
 * Memory no one asked for yet is bounded: new sets are made for at most
 * NEARBY_WARM_MAX_COMMITS commits and NEARBY_WARM_MAX_SETS branches in all
 * (a set costs some 2 KB besides its commits: 100,000 small branches took
 * 190 MB before this bound). Past that only the sets that exist follow
 * their tips, and a branch's first request walks as before. */
#pragma once

#include "catalog.h"

G_BEGIN_DECLS

#define NEARBY_WARM_MAX_COMMITS (1u << 20)
#define NEARBY_WARM_MAX_SETS 1000

typedef struct _NearbyReachWarmer NearbyReachWarmer;

/* Releases what it holds on the thread-default main context of the caller. */
NearbyReachWarmer *nearby_reach_warmer_new (void);
/* Waits for a walk in progress, drops the rest. */
void nearby_reach_warmer_free (NearbyReachWarmer *warmer);

/* Brings the sets of @repo's advertised branches to their tips now (their
 * refs are read in the thread); a repository already waiting is not queued
 * twice. */
void nearby_reach_warmer_queue (NearbyReachWarmer *warmer, NearbyRepo *repo);

G_END_DECLS
