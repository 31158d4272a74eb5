/* git-nearby: what this server serves — the repositories found under its
 * directories and, by name, the branches they opted in. It follows config
 * edits as they happen (repo-watch.h); tips are read fresh at each use
 * (branch-jobs.h). */
#pragma once

#include <gio/gio.h>
#include <git2.h>

G_BEGIN_DECLS

typedef struct _NearbyRepo NearbyRepo;

/* One advertised branch. Reference-counted: a request keeps its branch even
 * if a rescan drops it meanwhile. */
typedef struct
{
  char *name;
  char *branch;
  char *refname;
  NearbyRepo *repo;
} NearbyBranch;

NearbyBranch *nearby_branch_ref (NearbyBranch *branch);
void nearby_branch_unref (NearbyBranch *branch);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (NearbyBranch, nearby_branch_unref)

git_repository *nearby_branch_git (NearbyBranch *branch);
/* The repository's common git directory, where pack-objects runs. */
const char *nearby_branch_gitdir (NearbyBranch *branch);

#define NEARBY_TYPE_CATALOG (nearby_catalog_get_type ())
G_DECLARE_FINAL_TYPE (NearbyCatalog, nearby_catalog, NEARBY, CATALOG, GObject)

/* Signal "changed": the set of advertised names (or what they point at)
 * changed. Signal "tips-changed": some branch of a repository with opt-ins
 * may have moved (a ref was written); read the tips again. */
NearbyCatalog *nearby_catalog_new (const char *const *roots, guint max_depth, gboolean nested);

/* Looks for repositories again and re-reads every opt-in. */
void nearby_catalog_rescan (NearbyCatalog *self);

/* @repository (a common git directory) was opted in or out: re-read it if
 * it is served, look again if it lies under one of our directories. */
void nearby_catalog_notice_repository (NearbyCatalog *self, const char *repository);

NearbyBranch *nearby_catalog_lookup (NearbyCatalog *self, const char *name);

/* Every advertised branch, sorted by name. */
GPtrArray *nearby_catalog_list (NearbyCatalog *self);

guint nearby_catalog_n_repositories (NearbyCatalog *self);

/* What happens to @branch of @repository (a common git directory): re-reads
 * that repository's opt-ins first, then returns the verdict and adds its
 * details to @details (the vocabulary of org.gitnearby.Server1.Explain):
 *   "served"         name; displaced-repository, displaced-branch if another
 *                    repository's branch advertised under the same name lost
 *   "collision"      name, repository, branch: who has the name
 *   "not-advertised" the server sees no opt-in of @branch
 *   "problem"        problem: why the opt-in cannot be used
 *   "outside"        directories: the served ones
 *   "too-deep"       directory (the served one), depth, max-depth
 *   "nested"         repository: the one whose working tree holds it
 *   "hidden"         directory: the hidden one on the way
 *   "not-found"      not a repository the scanner recognises */
const char *nearby_catalog_explain (NearbyCatalog *self, const char *repository, const char *branch,
                                    GVariantDict *details);

G_END_DECLS
