/* git-nearby: what the catalog's three files share. The registry
 * (catalog.c) holds the served repositories and their branches by name; a
 * repository watches itself (repo-watch.c); requests work on a branch's
 * history in worker threads (branch-jobs.c). Only these three include it. */
#pragma once

#include "catalog.h"
#include "reach.h"

G_BEGIN_DECLS

/* One served repository. Reference-counted: branches, root walks and
 * planning jobs keep it past a rescan that drops it. */
struct _NearbyRepo
{
  gatomicrefcount ref_count;
  NearbyCatalog *catalog; /* unowned; NULL once dropped from it */
  char *gitdir;           /* the common directory, canonical, no trailing '/' */
  git_repository *git;    /* only while it opts something in */
  GPtrArray *opt_ins;     /* NearbyOptIn */
  /* repo-watch.c */
  GFileMonitor *monitor;
  GHashTable *ref_monitors; /* directory under refs/heads -> GFileMonitor */
  guint reload_id;
  guint tips_id;
  GHashTable *roots;      /* git_oid* tip -> git_oid* root commit, as found */
  GHashTable *root_walks; /* git_oid* tip -> itself, while its root is looked for */
  /* branch-jobs.c */
  GMutex reach_lock; /* held by planning workers only, for @reach and its walks */
  GHashTable *reach; /* refname -> NearbyReach of its last tip */
  /* The walk ahead in progress, if any (under @reach_lock). */
  char *ahead_refname;
  git_oid ahead_tip;
  GCancellable *ahead_stop;
  GCond ahead_done; /* signalled as it ends */
};

/* repo-watch.c: a repository opened, its opt-ins read, its config and refs
 * watched. */
NearbyRepo *nearby_repo_open (NearbyCatalog *catalog, const char *found, GError **error);
NearbyRepo *nearby_repo_ref (NearbyRepo *repo);
void nearby_repo_unref (NearbyRepo *repo);
/* Re-reads the opt-ins now (a pending re-read from a config edit is
 * dropped: this one reads the same file). */
void nearby_repo_reload (NearbyRepo *repo);
/* @path resolved (realpath) without a trailing '/': how repositories and
 * directories compare. */
char *nearby_canonical_dir (const char *path);

/* branch-jobs.c: the reach set of @refname at @tip, in a worker thread
 * with its own handle @git: the one @repo has if it is of @tip, else made
 * from the branch's last one (after a commit only the new commits are
 * read) or, for a branch's first set in a repository without a
 * commit-graph, another branch's; and kept. A request's walk holds the
 * repository's lock: concurrent first fetches of a new tip share one walk.
 * A walk @ahead does not (no request waits behind it) and keeps its set
 * only if no request replaced the branch's meanwhile; a request for the
 * same tip stops it and walks at its own priority, or takes its set if
 * it was done first. *@read (if not
 * NULL) is the size of a set kept for a branch that had none, else 0. */
NearbyReach *nearby_repo_reach (NearbyRepo *repo, git_repository *git, const char *refname,
                                const git_oid *tip, gboolean ahead, GCancellable *cancellable,
                                guint *read, GError **error);

/* Whether @refname has a set (of any tip). */
gboolean nearby_repo_has_reach (NearbyRepo *repo, const char *refname);

/* catalog.c: what a repository's watch tells the registry. */
void nearby_catalog_rebuild (NearbyCatalog *self);
void nearby_catalog_emit_changed (NearbyCatalog *self);
void nearby_catalog_emit_tips_changed (NearbyCatalog *self);
/* @repo's branches may have new tips or be new: walk their reach sets
 * ahead of the requests (reach-warm.h). */
void nearby_catalog_warm (NearbyCatalog *self, NearbyRepo *repo);

G_END_DECLS
