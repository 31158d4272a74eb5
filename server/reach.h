/* git-nearby: the set of commits reachable from an advertised tip.
 *
 * This set is the export boundary: only its members may be named in a want,
 * acknowledged as a have, or used as a shallow boundary. It also keeps the
 * commit graph it walked (parents and commit times, by index), so that
 * negotiation questions are answered in memory, within a budget, rather
 * than by libgit2 walks on the main loop. */
#pragma once

#include <git2.h>
#include <gio/gio.h>

G_BEGIN_DECLS

typedef struct _NearbyReach NearbyReach;

/* Walks the history of @tip once (in a worker thread: it reads every commit). */
NearbyReach *nearby_reach_new (git_repository *repo, const git_oid *tip, GError **error);
/* The set of @tip made from @base, the set of another tip of the same
 * history (NULL: none): only the commits @base does not hold are read, so
 * after a fast-forward the cost is that of the new commits, and after a
 * rewind or a force-push that of the commits not seen before (what they
 * lead to in @base is known). Also in a worker thread. A walk that reads
 * commits one by one stops (G_IO_ERROR_CANCELLED) soon after @cancellable
 * (or NULL) is cancelled. */
NearbyReach *nearby_reach_new_from (git_repository *repo, NearbyReach *base, const git_oid *tip,
                                    GCancellable *cancellable, GError **error);
NearbyReach *nearby_reach_ref (NearbyReach *reach);
void nearby_reach_unref (NearbyReach *reach);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (NearbyReach, nearby_reach_unref)

const git_oid *nearby_reach_tip (NearbyReach *reach);
gboolean nearby_reach_contains (NearbyReach *reach, const git_oid *oid);
guint nearby_reach_size (NearbyReach *reach);
/* Appends the parents of @oid (those in the set) to @parents; FALSE if @oid
 * is not in the set. */
gboolean nearby_reach_parents (NearbyReach *reach, const git_oid *oid, GArray *parents);
/* The commit time of @oid; FALSE if @oid is not in the set. */
gboolean nearby_reach_time (NearbyReach *reach, const git_oid *oid, gint64 *time);

/* One request's question "does every want reach a commit the client has?",
 * as git's can_all_from_reach_with_flag() answers it for upload-pack's
 * ok_to_give_up(): the client's commons (and their parents) are marked
 * (THEY_HAVE), and the walk goes down from the wants, not below the oldest
 * marked common's date (git's oldest_have cutoff). The walk is one for the
 * whole request: a commit is explored at most once however often the
 * question is asked, and marking a common marks what was explored above it.
 * It explores at most @budget commits; past that an answer not already
 * known is FALSE ("not known to reach"), which a caller must treat as the
 * safe answer. */
typedef struct _NearbyReachSearch NearbyReachSearch;

NearbyReachSearch *nearby_reach_search_new (NearbyReach *reach, guint64 budget);
void nearby_reach_search_free (NearbyReachSearch *search);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (NearbyReachSearch, nearby_reach_search_free)

/* Marks @oid (a member of the reach set) as a commit the client has. */
void nearby_reach_search_mark (NearbyReachSearch *search, const git_oid *oid);
/* Whether each of the @n_froms commits at @froms reaches a marked one (or
 * is one); FALSE if none is marked or one is not in the set. */
gboolean nearby_reach_search_reaches_all (NearbyReachSearch *search, const git_oid *froms,
                                          guint n_froms);
gboolean nearby_reach_search_exhausted (NearbyReachSearch *search);
/* Commits explored so far. */
guint64 nearby_reach_search_visited (NearbyReachSearch *search);

G_END_DECLS
