/* git-nearby: what this server serves — the repositories found under its
 * directories and, by name, the branches they opted in. It follows config
 * edits as they happen; tips are read fresh at each use. */
#pragma once

#include <gio/gio.h>
#include <git2.h>

#include "upload-pack.h"

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

/* The root commit reached by first parents from @tip, remembered per
 * repository. Found on the spot when @tip is a few commits on top of a tip
 * whose root is known (or the history is short); otherwise FALSE for now:
 * it is looked for in a worker thread, and the catalog emits "changed"
 * once it is known. FALSE in a shallow repository. */
gboolean nearby_branch_root_commit (NearbyBranch *branch, const git_oid *tip, git_oid *root);
/* The repository's common git directory, where pack-objects runs. */
const char *nearby_branch_gitdir (NearbyBranch *branch);

/* Reads the tip now. Fails with NEARBY_ERROR_NOT_FOUND when the branch no
 * longer exists (an unborn branch HEAD points at is not an error). */
gboolean nearby_branch_resolve (NearbyBranch *branch, NearbyUploadTarget *target, GError **error);
void nearby_upload_target_clear (NearbyUploadTarget *target);

/* Plans the answer to the upload-pack @request (protocol v2 or v0) in one
 * step, in a worker thread, against the tip the branch has now: parsing,
 * the reach set (from the branch's last one; concurrent requests share
 * one walk), the shallow computation and the negotiation. Nothing of it
 * runs on the main loop. */
void nearby_branch_plan_async (NearbyBranch *branch, gboolean v2, GBytes *request,
                               GAsyncReadyCallback callback, gpointer user_data);
/* The plan; NULL with NEARBY_ERROR_NOT_FOUND when the branch is gone, or
 * another error when it cannot be read. Called on the main loop. */
NearbyPackPlan *nearby_branch_plan_finish (GAsyncResult *result, GError **error);

/* Work on the branch's history in a worker thread: @work gets the worker's
 * own libgit2 handle, the tip now and its reach set (NULL: no commits
 * yet), and returns bytes, or NULL (with an error, or without: "none"). */
typedef GBytes *(*NearbyBranchWorkFunc) (git_repository *git, NearbyReach *reach,
                                         const git_oid *tip, gpointer data, GError **error);
void nearby_branch_work_async (NearbyBranch *branch, NearbyBranchWorkFunc work, gpointer work_data,
                               GDestroyNotify work_destroy, GAsyncReadyCallback callback,
                               gpointer user_data);
/* What @work returned; NULL and no error for its "none". */
GBytes *nearby_branch_work_finish (GAsyncResult *result, GError **error);
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (NearbyUploadTarget, nearby_upload_target_clear)

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
