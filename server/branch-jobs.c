/* git-nearby: work on a branch for one request — its tip read now, then
 * the upload-pack plan or other work on its history in a worker thread,
 * with the reach set of that tip (one walk per repository at a time,
 * shared by concurrent requests). */
#include "branch-jobs.h"

#include <string.h>

#include "catalog-private.h"
#include "git-util.h"
#include "nearby-error.h"

void
nearby_upload_target_clear (NearbyUploadTarget *target)
{
  g_clear_pointer (&target->reach, nearby_reach_unref);
}

/* One request, planned against the tip its branch had when it came. */
typedef struct
{
  NearbyRepo *repo; /* released on the main loop, in job_finish() */
  char *gitdir;
  char *branch;
  char *refname;
  gboolean unborn;
  git_oid tip;
  gboolean v2;
  GBytes *request;
  git_repository *git;       /* the worker's own handle */
  NearbyBranchWorkFunc work; /* or NULL: an upload-pack plan */
  gpointer work_data;
  GDestroyNotify work_destroy;
} PlanJob;

static void
plan_job_free (PlanJob *job)
{
  g_free (job->gitdir);
  g_free (job->branch);
  g_free (job->refname);
  g_clear_pointer (&job->request, g_bytes_unref);
  if (job->work_destroy != NULL)
    job->work_destroy (job->work_data);
  git_repository_free (job->git);
  g_free (job);
}

/* Where a branch's first walk starts: from another branch's set (branches
 * of one project share most of their history), unless the repository has
 * a commit-graph, which a walk from nothing reads faster than commits one
 * by one down to another set. Under the lock. */
static NearbyReach *
first_base (NearbyRepo *repo)
{
  g_autofree char *graph = g_build_filename (repo->gitdir, "objects", "info", "commit-graph", NULL);
  GHashTableIter iter;
  gpointer value = NULL;

  if (g_file_test (graph, G_FILE_TEST_EXISTS))
    return NULL;
  g_hash_table_iter_init (&iter, repo->reach);
  return g_hash_table_iter_next (&iter, NULL, &value) ? value : NULL;
}

static void
log_walk (const char *refname, const git_oid *tip, const char *from, NearbyReach *reach,
          gint64 start)
{
  if (reach != NULL)
    g_debug ("%s: %u commits reachable from %s (%" G_GINT64_FORMAT " ms, %s)", refname,
             nearby_reach_size (reach), git_oid_tostr_s (tip),
             (g_get_monotonic_time () - start) / 1000, from);
}

/* A walk ahead stops with the warmer. */
static void
stop_too (GCancellable *cancellable, gpointer stop)
{
  g_cancellable_cancel (stop);
}

gboolean
nearby_repo_has_reach (NearbyRepo *repo, const char *refname)
{
  gboolean has;

  g_mutex_lock (&repo->reach_lock);
  has = g_hash_table_contains (repo->reach, refname);
  g_mutex_unlock (&repo->reach_lock);
  return has;
}

NearbyReach *
nearby_repo_reach (NearbyRepo *repo, git_repository *git, const char *refname, const git_oid *tip,
                   gboolean ahead, GCancellable *cancellable, guint *read, GError **error)
{
  g_autoptr (NearbyReach) last = NULL;
  g_autoptr (NearbyReach) base = NULL;
  NearbyReach *current, *reach = NULL;
  gint64 start = g_get_monotonic_time ();
  gboolean kept = FALSE;
  const char *from;

  if (read != NULL)
    *read = 0;
  g_mutex_lock (&repo->reach_lock);
  /* A walk ahead to this very tip, at low priority: it stops, and this
   * request walks at its own, unless it was done first; either way it
   * ends soon (it looks at its cancellable every 4,096 commits). */
  while (!ahead && repo->ahead_refname != NULL && strcmp (repo->ahead_refname, refname) == 0
         && git_oid_equal (&repo->ahead_tip, tip))
    {
      g_cancellable_cancel (repo->ahead_stop);
      g_cond_wait (&repo->ahead_done, &repo->reach_lock);
    }
  if ((current = g_hash_table_lookup (repo->reach, refname)) != NULL)
    last = nearby_reach_ref (current);
  if (last != NULL && git_oid_equal (nearby_reach_tip (last), tip))
    {
      g_mutex_unlock (&repo->reach_lock);
      g_debug ("%s: the reach set of %s is at hand", repo->gitdir, git_oid_tostr_s (tip));
      return g_steal_pointer (&last);
    }
  base = last != NULL ? nearby_reach_ref (last) : first_base (repo);
  if (base != NULL && last == NULL)
    nearby_reach_ref (base);
  from = last != NULL   ? "from the set of the branch's last tip"
         : base != NULL ? "from the set of another branch"
                        : NULL;
  g_debug ("%s: one walk of the history of %s starts%s%s", repo->gitdir, git_oid_tostr_s (tip),
           from != NULL ? ", " : "", from != NULL ? from : "");
  if (from == NULL)
    from = "a whole walk";

  if (!ahead)
    {
      /* Under the lock: concurrent requests for the new tip wait for this
       * walk and share it. */
      reach = nearby_reach_new_from (git, base, tip, cancellable, error);
      log_walk (refname, tip, from, reach, start);
      if ((kept = reach != NULL))
        g_hash_table_replace (repo->reach, g_strdup (refname), nearby_reach_ref (reach));
    }
  else
    {
      /* Ahead of the requests, at low priority: without the lock, which a
       * request must never wait for behind this walk. The set is kept if
       * no request replaced the branch's meanwhile. */
      g_autoptr (GCancellable) stop = g_cancellable_new ();
      gulong handler = cancellable != NULL
                           ? g_cancellable_connect (cancellable, G_CALLBACK (stop_too), stop, NULL)
                           : 0;

      repo->ahead_refname = g_strdup (refname);
      git_oid_cpy (&repo->ahead_tip, tip);
      repo->ahead_stop = g_object_ref (stop);
      g_mutex_unlock (&repo->reach_lock);
      reach = nearby_reach_new_from (git, base, tip, stop, error);
      log_walk (refname, tip, from, reach, start);
      if (cancellable != NULL)
        g_cancellable_disconnect (cancellable, handler);
      if (reach == NULL && g_cancellable_is_cancelled (stop)
          && !g_cancellable_is_cancelled (cancellable))
        g_debug ("%s: the walk ahead to %s stops: a request walks it", refname,
                 git_oid_tostr_s (tip));
      g_mutex_lock (&repo->reach_lock);
      g_clear_pointer (&repo->ahead_refname, g_free);
      g_clear_object (&repo->ahead_stop);
      g_cond_broadcast (&repo->ahead_done);
      if ((kept = reach != NULL && g_hash_table_lookup (repo->reach, refname) == last))
        g_hash_table_replace (repo->reach, g_strdup (refname), nearby_reach_ref (reach));
    }
  g_mutex_unlock (&repo->reach_lock);
  if (read != NULL && kept && last == NULL)
    *read = nearby_reach_size (reach);
  return reach;
}

static NearbyReach *
job_reach (gpointer data, const git_oid *tip, GError **error)
{
  PlanJob *job = data;

  return nearby_repo_reach (job->repo, job->git, job->refname, tip, FALSE, NULL, NULL, error);
}

static void
plan_in_thread (GTask *task, gpointer source, gpointer task_data, GCancellable *cancellable)
{
  PlanJob *job = task_data;
  g_autoptr (GError) error = NULL;
  g_auto (NearbyUploadTarget) target = { 0 };

  if ((job->git = nearby_git_open (job->gitdir, &error)) == NULL)
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }
  target.repo = job->git;
  target.branch = job->branch;
  target.refname = job->refname;
  target.unborn = job->unborn;
  git_oid_cpy (&target.tip, &job->tip);
  target.get_reach = job_reach;
  target.reach_data = job;
  g_task_return_pointer (task,
                         nearby_upload_pack_plan (&target, job->v2,
                                                  g_bytes_get_data (job->request, NULL),
                                                  g_bytes_get_size (job->request)),
                         (GDestroyNotify) nearby_pack_plan_free);
}

/* A job for @branch against its tip now (read here, on the main loop: the
 * worker works on that tip alone); NULL with the task's error returned if
 * the branch is gone or unreadable. */
static PlanJob *
job_start (GTask *task, NearbyBranch *branch)
{
  g_auto (NearbyUploadTarget) target = { 0 };
  g_autoptr (GError) error = NULL;
  PlanJob *job;

  if (!nearby_branch_resolve (branch, &target, &error))
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return NULL;
    }
  job = g_new0 (PlanJob, 1);
  job->repo = nearby_repo_ref (branch->repo);
  job->gitdir = g_strdup (branch->repo->gitdir);
  job->branch = g_strdup (branch->branch);
  job->refname = g_strdup (branch->refname);
  job->unborn = target.unborn;
  git_oid_cpy (&job->tip, &target.tip);
  /* Freed by job_finish(), not by the task: the last reference to the
   * task may go in the worker, and the repository must be released on
   * the main loop. */
  g_task_set_task_data (task, job, NULL);
  return job;
}

/* On the main loop: what the worker returned, and the job let go. */
static gpointer
job_finish (GAsyncResult *result, GError **error)
{
  PlanJob *job = g_task_get_task_data (G_TASK (result));
  gpointer value = g_task_propagate_pointer (G_TASK (result), error);

  if (job != NULL)
    {
      nearby_repo_unref (job->repo);
      plan_job_free (job);
      g_task_set_task_data (G_TASK (result), NULL, NULL);
    }
  return value;
}

void
nearby_branch_plan_async (NearbyBranch *branch, gboolean v2, GBytes *request,
                          GAsyncReadyCallback callback, gpointer user_data)
{
  g_autoptr (GTask) task = g_task_new (NULL, NULL, callback, user_data);
  PlanJob *job;

  g_task_set_source_tag (task, nearby_branch_plan_async);
  if ((job = job_start (task, branch)) == NULL)
    return;
  job->v2 = v2;
  job->request = g_bytes_ref (request);
  g_task_run_in_thread (task, plan_in_thread);
}

static void
work_in_thread (GTask *task, gpointer source, gpointer task_data, GCancellable *cancellable)
{
  PlanJob *job = task_data;
  g_autoptr (GError) error = NULL;
  g_autoptr (NearbyReach) reach = NULL;
  GBytes *result;

  if ((job->git = nearby_git_open (job->gitdir, &error)) == NULL
      || (!job->unborn && (reach = job_reach (job, &job->tip, &error)) == NULL))
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }
  result = job->work (job->git, job->unborn ? NULL : reach, &job->tip, job->work_data, &error);
  if (result == NULL && error != NULL)
    g_task_return_error (task, g_steal_pointer (&error));
  else
    g_task_return_pointer (task, result, (GDestroyNotify) g_bytes_unref);
}

void
nearby_branch_work_async (NearbyBranch *branch, NearbyBranchWorkFunc work, gpointer work_data,
                          GDestroyNotify work_destroy, GAsyncReadyCallback callback,
                          gpointer user_data)
{
  g_autoptr (GTask) task = g_task_new (NULL, NULL, callback, user_data);
  PlanJob *job;

  g_task_set_source_tag (task, nearby_branch_work_async);
  if ((job = job_start (task, branch)) == NULL)
    {
      if (work_destroy != NULL)
        work_destroy (work_data);
      return;
    }
  job->work = work;
  job->work_data = work_data;
  job->work_destroy = work_destroy;
  g_task_run_in_thread (task, work_in_thread);
}

GBytes *
nearby_branch_work_finish (GAsyncResult *result, GError **error)
{
  return job_finish (result, error);
}

NearbyPackPlan *
nearby_branch_plan_finish (GAsyncResult *result, GError **error)
{
  return job_finish (result, error);
}

gboolean
nearby_branch_resolve (NearbyBranch *branch, NearbyUploadTarget *target, GError **error)
{
  git_repository *git = branch->repo->git;
  int rc;

  memset (target, 0, sizeof *target);
  if (git == NULL)
    {
      g_set_error (error, NEARBY_ERROR, NEARBY_ERROR_NOT_FOUND,
                   "branch '%s' of %s is no longer served", branch->branch, branch->repo->gitdir);
      return FALSE;
    }
  target->repo = git;
  target->branch = branch->branch;
  target->refname = branch->refname;

  rc = git_reference_name_to_id (&target->tip, git, branch->refname);
  if (rc == GIT_ENOTFOUND)
    {
      g_autoptr (git_reference) head = NULL;

      /* A new repository's first branch exists only as HEAD's target. */
      if (git_reference_lookup (&head, git, "HEAD") == 0
          && git_reference_type (head) == GIT_REFERENCE_SYMBOLIC
          && strcmp (git_reference_symbolic_target (head), branch->refname) == 0)
        {
          target->unborn = TRUE;
          return TRUE;
        }
      g_set_error (error, NEARBY_ERROR, NEARBY_ERROR_NOT_FOUND,
                   "branch '%s' of %s no longer exists", branch->branch, branch->repo->gitdir);
      return FALSE;
    }
  if (rc < 0)
    return nearby_git_error (error, rc, "cannot read %s in %s", branch->refname,
                             branch->repo->gitdir);
  return TRUE;
}
