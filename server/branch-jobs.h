/* git-nearby: work on an advertised branch for one request: its tip read
 * now, and the planning of an upload-pack answer or other work on its
 * history in a worker thread, never on the main loop. */
#pragma once

#include "catalog.h"
#include "upload-pack.h"

G_BEGIN_DECLS

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

G_END_DECLS
