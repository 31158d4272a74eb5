/* git-nearby: shallow boundaries for deepen, deepen-since and deepen-not. */
#pragma once

#include "reach.h"
#include <git2.h>
#include <glib.h>

G_BEGIN_DECLS

#define NEARBY_INFINITE_DEPTH 0x7fffffff

typedef struct
{
  int depth;         /* `deepen N`; 0 when not given */
  gboolean relative; /* `deepen-relative`: N counts from the client's shallows */
  gint64 since;      /* `deepen-since T`; 0 when not given */
  gboolean exclude;  /* `deepen-not`: exclude everything reachable from the tip */
} NearbyDeepen;

/* Whether a deepen was asked for at all. */
gboolean nearby_deepen_requested (const NearbyDeepen *deepen);

/* From @wants (and, for relative deepening, the client's @shallows), all of
 * them commits inside the export boundary, computes the commits that become
 * shallow (@new_shallows, less those the client already has as shallow) and
 * the client's shallows that no longer are (@unshallows, each once even if
 * @shallows repeats it). With @reach (may be NULL) depths are counted in its
 * in-memory graph rather than by reading commits. */
gboolean nearby_shallow_compute (git_repository *repo, NearbyReach *reach,
                                 const NearbyDeepen *deepen, GArray *wants, GArray *shallows,
                                 GArray *new_shallows, GArray *unshallows, GError **error);

G_END_DECLS
