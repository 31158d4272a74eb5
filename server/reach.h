/* git-nearby: the set of commits reachable from an advertised tip.
 *
 * This set is the export boundary: only its members may be named in a want,
 * acknowledged as a have, or used as a shallow boundary. */
#pragma once

#include <git2.h>
#include <glib.h>

G_BEGIN_DECLS

typedef struct _NearbyReach NearbyReach;

/* Walks the history of @tip once. */
NearbyReach *nearby_reach_new (git_repository *repo, const git_oid *tip, GError **error);
NearbyReach *nearby_reach_ref (NearbyReach *reach);
void nearby_reach_unref (NearbyReach *reach);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (NearbyReach, nearby_reach_unref)

const git_oid *nearby_reach_tip (NearbyReach *reach);
gboolean nearby_reach_contains (NearbyReach *reach, const git_oid *oid);
guint nearby_reach_size (NearbyReach *reach);

G_END_DECLS
