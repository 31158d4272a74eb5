/* git-nearby: a repository's commit-graph file (gitformat-commit-graph(5)),
 * read-only: the parents and commit times of every commit git wrote into
 * it, without reading the commits themselves. A reach set walks it where
 * it can (reach.c), and reads commits only for what it lacks.
 *
 * Only a single, whole file is used (objects/info/commit-graph, version 1,
 * SHA-1), and only when its checksum matches, its ids are in order and
 * every position in it is in range: a file that is split, of another version, truncated or corrupt is
 * as good as none. Nor is one used in a shallow repository or one with
 * grafts, where git does not trust it either. */
#pragma once

#include <git2.h>
#include <glib.h>

G_BEGIN_DECLS

#define NEARBY_COMMIT_GRAPH_NONE G_MAXUINT32

typedef struct _NearbyCommitGraph NearbyCommitGraph;

/* The commit-graph of the repository whose common directory is @commondir;
 * NULL when it has no usable one (see above). */
NearbyCommitGraph *nearby_commit_graph_open (const char *commondir);
void nearby_commit_graph_free (NearbyCommitGraph *graph);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (NearbyCommitGraph, nearby_commit_graph_free)

guint32 nearby_commit_graph_size (NearbyCommitGraph *graph);
/* The position of @oid, or NEARBY_COMMIT_GRAPH_NONE. */
guint32 nearby_commit_graph_find (NearbyCommitGraph *graph, const git_oid *oid);
void nearby_commit_graph_oid (NearbyCommitGraph *graph, guint32 pos, git_oid *oid);
gint64 nearby_commit_graph_time (NearbyCommitGraph *graph, guint32 pos);
/* Appends the positions of the parents of @pos (guint32) to @parents, in
 * order; FALSE if the file says something impossible. */
gboolean nearby_commit_graph_parents (NearbyCommitGraph *graph, guint32 pos, GArray *parents);

G_END_DECLS
