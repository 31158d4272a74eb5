#include "catalog.h"

#include <stdlib.h>
#include <string.h>

#include "git-util.h"
#include "nearby-error.h"
#include "opt-in.h"
#include "scanner.h"

#define CONFIG_SETTLE_MS 50

struct _NearbyRepo
{
  gatomicrefcount ref_count;
  NearbyCatalog *catalog; /* unowned; NULL once dropped from it */
  char *gitdir;           /* the common directory, canonical, no trailing '/' */
  git_repository *git;
  GPtrArray *opt_ins; /* NearbyOptIn */
  GFileMonitor *monitor;
  GHashTable *ref_monitors; /* directory under refs/heads -> GFileMonitor */
  guint reload_id;
  guint tips_id;
  GMutex reach_lock;      /* held by planning workers only, for @reach and its walks */
  GHashTable *reach;      /* refname -> NearbyReach of its last tip */
  GHashTable *roots;      /* git_oid* tip -> git_oid* root commit, as found */
  GHashTable *root_walks; /* git_oid* tip -> itself, while its root is looked for */
};

struct _NearbyCatalog
{
  GObject parent_instance;
  GStrv roots;
  guint max_depth;
  gboolean nested;
  GPtrArray *repos;     /* NearbyRepo, sorted by gitdir */
  GHashTable *by_name;  /* name -> NearbyBranch */
  GHashTable *reported; /* problems already logged once */
};

G_DEFINE_TYPE (NearbyCatalog, nearby_catalog, G_TYPE_OBJECT)

enum
{
  SIGNAL_CHANGED,
  SIGNAL_TIPS_CHANGED,
  N_SIGNALS
};
static guint signals[N_SIGNALS];

static void rebuild (NearbyCatalog *self);

static NearbyRepo *
repo_ref (NearbyRepo *repo)
{
  g_atomic_ref_count_inc (&repo->ref_count);
  return repo;
}

static void
repo_unref (NearbyRepo *repo)
{
  if (repo == NULL || !g_atomic_ref_count_dec (&repo->ref_count))
    return;
  g_clear_handle_id (&repo->reload_id, g_source_remove);
  g_clear_handle_id (&repo->tips_id, g_source_remove);
  g_clear_pointer (&repo->ref_monitors, g_hash_table_unref);
  if (repo->monitor != NULL)
    {
      g_signal_handlers_disconnect_by_data (repo->monitor, repo);
      g_file_monitor_cancel (repo->monitor);
      g_object_unref (repo->monitor);
    }
  g_clear_pointer (&repo->opt_ins, g_ptr_array_unref);
  g_clear_pointer (&repo->reach, g_hash_table_unref);
  g_mutex_clear (&repo->reach_lock);
  g_clear_pointer (&repo->roots, g_hash_table_unref);
  g_clear_pointer (&repo->root_walks, g_hash_table_unref);
  git_repository_free (repo->git);
  g_free (repo->gitdir);
  g_free (repo);
}

NearbyBranch *
nearby_branch_ref (NearbyBranch *branch)
{
  return g_rc_box_acquire (branch);
}

static void
branch_clear (NearbyBranch *branch)
{
  g_free (branch->name);
  g_free (branch->branch);
  g_free (branch->refname);
  repo_unref (branch->repo);
}

void
nearby_branch_unref (NearbyBranch *branch)
{
  g_rc_box_release_full (branch, (GDestroyNotify) branch_clear);
}

git_repository *
nearby_branch_git (NearbyBranch *branch)
{
  return branch->repo->git;
}

const char *
nearby_branch_gitdir (NearbyBranch *branch)
{
  return branch->repo->gitdir;
}

/* First parents looked at on the main loop: enough for the commits and
 * merges made on a branch since its root was found. */
#define ROOT_STEPS 64
/* Tips whose root is remembered, per repository. */
#define MAX_ROOTS 256

static void
remember_root (NearbyRepo *repo, const git_oid *tip, const git_oid *root)
{
  if (g_hash_table_size (repo->roots) >= MAX_ROOTS)
    g_hash_table_remove_all (repo->roots);
  g_hash_table_replace (repo->roots, g_memdup2 (tip, sizeof *tip), g_memdup2 (root, sizeof *root));
}

typedef struct
{
  NearbyRepo *repo;
  char *gitdir;
  git_oid tip;
  git_oid root;
} RootWalk;

static void
root_walk_free (RootWalk *walk)
{
  repo_unref (walk->repo);
  g_free (walk->gitdir);
  g_free (walk);
}

/* Down the first parents of @tip to the root commit; FALSE in a shallow
 * repository (no root to name) or on a read error. */
static gboolean
first_parent_root (git_repository *git, const git_oid *tip, GHashTable *known, guint max_steps,
                   git_oid *root)
{
  g_autoptr (git_commit) commit = NULL;

  if (git_commit_lookup (&commit, git, tip) < 0)
    return FALSE;
  for (guint step = 0; step < max_steps; step++)
    {
      git_commit *parent = NULL;
      const git_oid *found;

      if (git_commit_parentcount (commit) == 0)
        {
          git_oid_cpy (root, git_commit_id (commit));
          return TRUE;
        }
      if (known != NULL && (found = g_hash_table_lookup (known, git_commit_parent_id (commit, 0))))
        {
          git_oid_cpy (root, found);
          return TRUE;
        }
      if (git_commit_parent (&parent, commit, 0) < 0)
        return FALSE;
      git_commit_free (commit);
      commit = parent;
    }
  return FALSE;
}

static void
root_walk_in_thread (GTask *task, gpointer source, gpointer task_data, GCancellable *cancellable)
{
  RootWalk *walk = task_data;
  g_autoptr (git_repository) git = nearby_git_open (walk->gitdir, NULL);

  g_task_return_boolean (
      task, git != NULL && first_parent_root (git, &walk->tip, NULL, G_MAXUINT, &walk->root));
}

static void
on_root_walk_done (GObject *source, GAsyncResult *result, gpointer user_data)
{
  RootWalk *walk = g_task_get_task_data (G_TASK (result));
  NearbyRepo *repo = walk->repo;

  g_hash_table_remove (repo->root_walks, &walk->tip);
  if (!g_task_propagate_boolean (G_TASK (result), NULL) || repo->catalog == NULL)
    return;
  remember_root (repo, &walk->tip, &walk->root);
  g_debug ("%s: root commit of %s found", repo->gitdir, git_oid_tostr_s (&walk->tip));
  /* So that the records get it. */
  g_signal_emit (repo->catalog, signals[SIGNAL_CHANGED], 0);
}

gboolean
nearby_branch_root_commit (NearbyBranch *branch, const git_oid *tip, git_oid *root)
{
  NearbyRepo *repo = branch->repo;
  const git_oid *known;
  g_autoptr (GTask) task = NULL;
  RootWalk *walk;

  if (repo->git == NULL)
    return FALSE;
  if ((known = g_hash_table_lookup (repo->roots, tip)) != NULL)
    {
      git_oid_cpy (root, known);
      return TRUE;
    }
  /* A few commits on top of a tip whose root is known, or a short history:
   * here. A long way down: in a worker thread, once, and the records are
   * made again when it is found. */
  if (first_parent_root (repo->git, tip, repo->roots, ROOT_STEPS, root))
    {
      remember_root (repo, tip, root);
      return TRUE;
    }
  if (g_hash_table_contains (repo->root_walks, tip))
    return FALSE;
  walk = g_new0 (RootWalk, 1);
  walk->repo = repo_ref (repo);
  walk->gitdir = g_strdup (repo->gitdir);
  git_oid_cpy (&walk->tip, tip);
  g_hash_table_add (repo->root_walks, g_memdup2 (tip, sizeof *tip));
  task = g_task_new (NULL, NULL, on_root_walk_done, NULL);
  g_task_set_task_data (task, walk, (GDestroyNotify) root_walk_free);
  g_task_run_in_thread (task, root_walk_in_thread);
  return FALSE;
}

void
nearby_upload_target_clear (NearbyUploadTarget *target)
{
  g_clear_pointer (&target->reach, nearby_reach_unref);
}

/* ---- planning, in a worker thread ---- */

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

/* The reach set of @tip, in the worker: the branch's last one if it is of
 * @tip, else made from it (only the new commits are read after a commit).
 * One walk at a time per repository, under the lock: concurrent first
 * fetches of a new tip wait for one walk and share it. */
static NearbyReach *
job_reach (gpointer data, const git_oid *tip, GError **error)
{
  PlanJob *job = data;
  NearbyRepo *repo = job->repo;
  NearbyReach *last, *reach;

  g_mutex_lock (&repo->reach_lock);
  last = g_hash_table_lookup (repo->reach, job->refname);
  if (last != NULL && git_oid_equal (nearby_reach_tip (last), tip))
    {
      reach = nearby_reach_ref (last);
      g_debug ("%s: the reach set of %s is at hand", job->gitdir, git_oid_tostr_s (tip));
    }
  else
    {
      gint64 start = g_get_monotonic_time ();

      g_debug ("%s: one walk of the history of %s starts%s", job->gitdir, git_oid_tostr_s (tip),
               last != NULL ? ", from the set of the branch's last tip" : "");
      reach = nearby_reach_new_from (job->git, last, tip, error);
      if (reach != NULL)
        {
          g_debug ("%s: %u commits reachable from %s (%" G_GINT64_FORMAT " ms)", job->branch,
                   nearby_reach_size (reach), git_oid_tostr_s (tip),
                   (g_get_monotonic_time () - start) / 1000);
          g_hash_table_replace (repo->reach, g_strdup (job->refname), nearby_reach_ref (reach));
        }
    }
  g_mutex_unlock (&repo->reach_lock);
  return reach;
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
  job->repo = repo_ref (branch->repo);
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
      repo_unref (job->repo);
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

/* ---- repositories ---- */

static gboolean
on_tips_timeout (gpointer user_data)
{
  NearbyRepo *repo = user_data;

  repo->tips_id = 0;
  if (repo->catalog != NULL)
    g_signal_emit (repo->catalog, signals[SIGNAL_TIPS_CHANGED], 0);
  return G_SOURCE_REMOVE;
}

static void
schedule_tips (NearbyRepo *repo)
{
  if (repo->tips_id == 0)
    repo->tips_id = g_timeout_add (CONFIG_SETTLE_MS, on_tips_timeout, repo);
}

/* A ref is written as <ref>.lock and renamed into place: any event here may
 * be a moved tip. Checks are debounced, and cheap. */
static void
on_refs_changed (GFileMonitor *monitor, GFile *file, GFile *other, GFileMonitorEvent event,
                 gpointer user_data)
{
  schedule_tips (user_data);
}

/* Loose refs live in refs/heads and, for branch names with '/', in its
 * subdirectories; packed ones in packed-refs, watched with the config. */
static void
watch_refs (NearbyRepo *repo)
{
  g_autoptr (GHashTable) wanted = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  GHashTableIter iter;
  gpointer key;

  g_hash_table_add (wanted, g_build_filename (repo->gitdir, "refs", "heads", NULL));
  for (guint i = 0; i < repo->opt_ins->len; i++)
    {
      NearbyOptIn *opt_in = repo->opt_ins->pdata[i];
      g_autofree char *ref = g_build_filename (repo->gitdir, "refs", "heads", opt_in->branch, NULL);

      g_hash_table_add (wanted, g_path_get_dirname (ref));
    }

  g_hash_table_iter_init (&iter, repo->ref_monitors);
  while (g_hash_table_iter_next (&iter, &key, NULL))
    if (!g_hash_table_contains (wanted, key))
      g_hash_table_iter_remove (&iter);

  g_hash_table_iter_init (&iter, wanted);
  while (g_hash_table_iter_next (&iter, &key, NULL))
    {
      g_autoptr (GFile) dir = NULL;
      GFileMonitor *monitor;

      if (g_hash_table_contains (repo->ref_monitors, key))
        continue;
      dir = g_file_new_for_path (key);
      monitor = g_file_monitor_directory (dir, G_FILE_MONITOR_WATCH_MOVES, NULL, NULL);
      if (monitor == NULL)
        continue;
      g_signal_connect (monitor, "changed", G_CALLBACK (on_refs_changed), repo);
      g_hash_table_insert (repo->ref_monitors, g_strdup (key), monitor);
    }
}

static void
drop_monitor (gpointer data)
{
  GFileMonitor *monitor = data;

  g_signal_handlers_disconnect_matched (monitor, G_SIGNAL_MATCH_FUNC, 0, 0, NULL, on_refs_changed,
                                        NULL);
  g_file_monitor_cancel (monitor);
  g_object_unref (monitor);
}

static gboolean
reload_opt_ins (NearbyRepo *repo)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) opt_ins = NULL;
  g_autoptr (git_repository) fresh = nearby_git_open (repo->gitdir, &error);

  /* A fresh handle, so that libgit2 reads the new config from disk. */
  if (fresh != NULL)
    opt_ins = nearby_opt_ins_read (fresh, &error);
  if (opt_ins == NULL)
    {
      g_warning ("%s: %s; serving nothing from it", repo->gitdir, error->message);
      opt_ins = g_ptr_array_new_with_free_func ((GDestroyNotify) nearby_opt_in_free);
    }
  g_clear_pointer (&repo->opt_ins, g_ptr_array_unref);
  repo->opt_ins = g_steal_pointer (&opt_ins);
  /* Only repositories that serve something keep libgit2's handle (and its
   * caches): most of a big directory opts nothing in. */
  g_clear_pointer (&repo->git, git_repository_free);
  if (repo->opt_ins->len > 0)
    repo->git = g_steal_pointer (&fresh);
  if (repo->ref_monitors != NULL && repo->opt_ins->len > 0)
    watch_refs (repo);
  return TRUE;
}

static gboolean
on_reload_timeout (gpointer user_data)
{
  NearbyRepo *repo = user_data;

  repo->reload_id = 0;
  g_debug ("%s: config changed, re-reading its opt-ins", repo->gitdir);
  reload_opt_ins (repo);
  if (repo->catalog != NULL)
    rebuild (repo->catalog);
  return G_SOURCE_REMOVE;
}

static void
on_gitdir_changed (GFileMonitor *monitor, GFile *file, GFile *other, GFileMonitorEvent event,
                   gpointer user_data)
{
  NearbyRepo *repo = user_data;
  g_autofree char *name = g_file_get_basename (file);
  g_autofree char *other_name = other != NULL ? g_file_get_basename (other) : NULL;

  /* git rewrites files through a .lock and a rename. */
  if (g_strcmp0 (name, "config") == 0 || g_strcmp0 (other_name, "config") == 0)
    {
      if (repo->reload_id == 0)
        repo->reload_id = g_timeout_add (CONFIG_SETTLE_MS, on_reload_timeout, repo);
    }
  else if (g_strcmp0 (name, "packed-refs") == 0 || g_strcmp0 (other_name, "packed-refs") == 0
           || g_strcmp0 (name, "HEAD") == 0 || g_strcmp0 (other_name, "HEAD") == 0)
    schedule_tips (repo);
}

static char *
canonical_dir (const char *path)
{
  g_autofree char *real = realpath (path, NULL);
  char *result = g_strdup (real != NULL ? real : path);
  gsize len = strlen (result);

  while (len > 1 && result[len - 1] == '/')
    result[--len] = '\0';
  return result;
}

static NearbyRepo *
repo_open (NearbyCatalog *catalog, const char *found, GError **error)
{
  g_autoptr (git_repository) git = nearby_git_open (found, error);
  g_autoptr (GFile) dir = NULL;
  g_autoptr (GError) monitor_error = NULL;
  g_autofree char *common = NULL;
  NearbyRepo *repo;

  if (git == NULL)
    return NULL;
  repo = g_new0 (NearbyRepo, 1);
  g_atomic_ref_count_init (&repo->ref_count);
  repo->catalog = catalog;
  /* Canonical once here, so that paths from D-Bus compare directly. */
  common = nearby_git_common_dir (git);
  repo->gitdir = canonical_dir (common);
  repo->reach = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
                                       (GDestroyNotify) nearby_reach_unref);
  g_mutex_init (&repo->reach_lock);
  repo->roots = g_hash_table_new_full (nearby_oid_hash, nearby_oid_equal, g_free, g_free);
  repo->root_walks = g_hash_table_new_full (nearby_oid_hash, nearby_oid_equal, g_free, NULL);
  repo->ref_monitors = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, drop_monitor);
  reload_opt_ins (repo);

  dir = g_file_new_for_path (repo->gitdir);
  repo->monitor = g_file_monitor_directory (dir, G_FILE_MONITOR_WATCH_MOVES, NULL, &monitor_error);
  if (repo->monitor != NULL)
    g_signal_connect (repo->monitor, "changed", G_CALLBACK (on_gitdir_changed), repo);
  else
    g_warning ("%s: cannot watch its config (%s); send SIGHUP after editing it", repo->gitdir,
               monitor_error->message);
  return repo;
}

/* ---- the catalog ---- */

static void report_once (NearbyCatalog *self, const char *key, const char *format, ...)
    G_GNUC_PRINTF (3, 4);

static void
report_once (NearbyCatalog *self, const char *key, const char *format, ...)
{
  g_autofree char *message = NULL;
  va_list args;

  if (g_hash_table_contains (self->reported, key))
    return;
  va_start (args, format);
  message = g_strdup_vprintf (format, args);
  va_end (args);
  g_warning ("%s", message);
  g_hash_table_add (self->reported, g_strdup (key));
}

static gboolean
same_names (GHashTable *a, GHashTable *b)
{
  GHashTableIter iter;
  gpointer key, value;

  if (g_hash_table_size (a) != g_hash_table_size (b))
    return FALSE;
  g_hash_table_iter_init (&iter, a);
  while (g_hash_table_iter_next (&iter, &key, &value))
    {
      NearbyBranch *x = value, *y = g_hash_table_lookup (b, key);

      if (y == NULL || x->repo != y->repo || strcmp (x->branch, y->branch) != 0)
        return FALSE;
    }
  return TRUE;
}

static void
rebuild (NearbyCatalog *self)
{
  g_autoptr (GHashTable) by_name
      = g_hash_table_new_full (g_str_hash, g_str_equal, NULL, (GDestroyNotify) nearby_branch_unref);

  for (guint i = 0; i < self->repos->len; i++)
    {
      NearbyRepo *repo = self->repos->pdata[i];

      for (guint j = 0; j < repo->opt_ins->len; j++)
        {
          NearbyOptIn *opt_in = repo->opt_ins->pdata[j];
          g_autofree char *key = g_strdup_printf ("%s\n%s\n%s", repo->gitdir, opt_in->branch,
                                                  opt_in->name != NULL ? opt_in->name : "");
          NearbyBranch *taken, *branch;

          if (opt_in->problem != NULL)
            {
              report_once (self, key, "%s: branch '%s' is not served: %s", repo->gitdir,
                           opt_in->branch, opt_in->problem);
              continue;
            }
          taken = g_hash_table_lookup (by_name, opt_in->name);
          if (taken != NULL)
            {
              /* Repositories are in path order, so the same one always wins. */
              report_once (self, key,
                           "'%s' is advertised by both %s (branch %s) and %s (branch %s); "
                           "serving the first only (the first path wins); give the other "
                           "another name with: git nearby advertise NAME --branch %s",
                           opt_in->name, taken->repo->gitdir, taken->branch, repo->gitdir,
                           opt_in->branch, opt_in->branch);
              continue;
            }
          branch = g_rc_box_new0 (NearbyBranch);
          branch->name = g_strdup (opt_in->name);
          branch->branch = g_strdup (opt_in->branch);
          branch->refname = g_strconcat ("refs/heads/", opt_in->branch, NULL);
          branch->repo = repo_ref (repo);
          g_hash_table_insert (by_name, branch->name, branch);
        }
    }

  if (self->by_name != NULL && same_names (self->by_name, by_name))
    return;
  g_clear_pointer (&self->by_name, g_hash_table_unref);
  self->by_name = g_steal_pointer (&by_name);
  g_signal_emit (self, signals[SIGNAL_CHANGED], 0);
}

static int
compare_repos (gconstpointer a, gconstpointer b)
{
  return strcmp ((*(NearbyRepo *const *) a)->gitdir, (*(NearbyRepo *const *) b)->gitdir);
}

static void
drop_repo (gpointer data)
{
  NearbyRepo *repo = data;

  repo->catalog = NULL;
  repo_unref (repo);
}

/* The repository @found belongs to: one of @known (by common directory,
 * canonical) with its watches and reach sets, its opt-ins read again; else
 * a new one. */
static NearbyRepo *
repo_find_or_open (NearbyCatalog *self, GHashTable *known, const char *found, GError **error)
{
  g_autoptr (git_repository) git = nearby_git_open (found, error);
  g_autofree char *common = NULL;
  g_autofree char *gitdir = NULL;
  NearbyRepo *repo;

  if (git == NULL)
    return NULL;
  common = nearby_git_common_dir (git);
  gitdir = canonical_dir (common);
  if ((repo = g_hash_table_lookup (known, gitdir)) == NULL)
    return repo_open (self, found, error);
  g_clear_handle_id (&repo->reload_id, g_source_remove);
  reload_opt_ins (repo);
  return repo_ref (repo);
}

/* Looks for repositories again: new ones are opened, gone ones dropped,
 * and those still there kept as they are (watches, reach sets, roots). */
void
nearby_catalog_rescan (NearbyCatalog *self)
{
  g_autoptr (GPtrArray) problems = g_ptr_array_new_with_free_func (g_free);
  g_autoptr (GPtrArray) found
      = nearby_scan ((const char *const *) self->roots, self->max_depth, self->nested, problems);
  g_autoptr (GPtrArray) repos = g_ptr_array_new_with_free_func (drop_repo);
  g_autoptr (GHashTable) gitdirs = g_hash_table_new (g_str_hash, g_str_equal);
  g_autoptr (GHashTable) known = g_hash_table_new (g_str_hash, g_str_equal);
  g_autoptr (GPtrArray) old = g_steal_pointer (&self->repos);
  guint kept = 0;

  for (guint i = 0; i < problems->len; i++)
    g_warning ("%s", (char *) problems->pdata[i]);
  for (guint i = 0; old != NULL && i < old->len; i++)
    g_hash_table_insert (known, ((NearbyRepo *) old->pdata[i])->gitdir, old->pdata[i]);

  for (guint i = 0; i < found->len; i++)
    {
      g_autoptr (GError) error = NULL;
      NearbyRepo *repo = repo_find_or_open (self, known, found->pdata[i], &error);

      if (repo == NULL)
        {
          report_once (self, found->pdata[i], "%s", error->message);
          continue;
        }
      /* A repository and its linked worktrees share one common directory. */
      if (!g_hash_table_add (gitdirs, repo->gitdir))
        {
          if (g_hash_table_contains (known, repo->gitdir))
            repo_unref (repo);
          else
            drop_repo (repo);
          continue;
        }
      kept += g_hash_table_contains (known, repo->gitdir);
      g_ptr_array_add (repos, repo);
    }
  g_ptr_array_sort (repos, compare_repos);

  /* The old list lets go of its repositories; those not found again leave
   * the catalog. */
  if (old != NULL)
    {
      g_ptr_array_set_free_func (old, NULL);
      for (guint i = 0; i < old->len; i++)
        {
          NearbyRepo *repo = old->pdata[i];

          if (g_hash_table_contains (gitdirs, repo->gitdir))
            repo_unref (repo);
          else
            drop_repo (repo);
        }
    }
  g_debug ("rescan: %u repositories, %u of them kept as they were", repos->len, kept);
  self->repos = g_steal_pointer (&repos);
  rebuild (self);
}

void
nearby_catalog_notice_repository (NearbyCatalog *self, const char *repository)
{
  g_autofree char *path = canonical_dir (repository);

  for (guint i = 0; i < self->repos->len; i++)
    {
      NearbyRepo *repo = self->repos->pdata[i];

      if (strcmp (repo->gitdir, path) == 0)
        {
          g_debug ("%s: told its opt-ins changed", repo->gitdir);
          g_clear_handle_id (&repo->reload_id, g_source_remove);
          reload_opt_ins (repo);
          rebuild (self);
          return;
        }
    }
  for (char **root = self->roots; *root != NULL; root++)
    {
      g_autofree char *dir = canonical_dir (*root);
      g_autofree char *prefix = g_strconcat (dir, "/", NULL);

      if (g_str_has_prefix (path, prefix) || strcmp (path, dir) == 0)
        {
          g_message ("a new repository opted in (%s); looking again", path);
          nearby_catalog_rescan (self);
          return;
        }
    }
  g_debug ("%s opted in, but is not under a served directory", path);
}

NearbyBranch *
nearby_catalog_lookup (NearbyCatalog *self, const char *name)
{
  NearbyBranch *branch = g_hash_table_lookup (self->by_name, name);

  return branch != NULL ? nearby_branch_ref (branch) : NULL;
}

static int
compare_branches (gconstpointer a, gconstpointer b)
{
  return strcmp ((*(NearbyBranch *const *) a)->name, (*(NearbyBranch *const *) b)->name);
}

GPtrArray *
nearby_catalog_list (NearbyCatalog *self)
{
  GPtrArray *list = g_ptr_array_new_with_free_func ((GDestroyNotify) nearby_branch_unref);
  GHashTableIter iter;
  gpointer value;

  g_hash_table_iter_init (&iter, self->by_name);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    g_ptr_array_add (list, nearby_branch_ref (value));
  g_ptr_array_sort (list, compare_branches);
  return list;
}

guint
nearby_catalog_n_repositories (NearbyCatalog *self)
{
  return self->repos->len;
}

static NearbyRepo *
find_repo (NearbyCatalog *self, const char *gitdir)
{
  for (guint i = 0; i < self->repos->len; i++)
    {
      NearbyRepo *repo = self->repos->pdata[i];

      if (strcmp (repo->gitdir, gitdir) == 0)
        return repo;
    }
  return NULL;
}

static const char *
explain_served_repo (NearbyCatalog *self, NearbyRepo *repo, const char *branch,
                     GVariantDict *details)
{
  NearbyOptIn *mine = NULL;
  NearbyBranch *taken;

  for (guint i = 0; i < repo->opt_ins->len && mine == NULL; i++)
    if (strcmp (((NearbyOptIn *) repo->opt_ins->pdata[i])->branch, branch) == 0)
      mine = repo->opt_ins->pdata[i];
  if (mine == NULL)
    return "not-advertised";
  if (mine->problem != NULL)
    {
      g_variant_dict_insert (details, "problem", "s", mine->problem);
      return "problem";
    }
  g_variant_dict_insert (details, "name", "s", mine->name);
  taken = g_hash_table_lookup (self->by_name, mine->name);
  if (taken == NULL)
    return "not-advertised";
  if (taken->repo != repo || strcmp (taken->branch, branch) != 0)
    {
      g_variant_dict_insert (details, "repository", "s", taken->repo->gitdir);
      g_variant_dict_insert (details, "branch", "s", taken->branch);
      return "collision";
    }
  /* Ours won: whoever else wanted the name is not served under it. */
  for (guint i = 0; i < self->repos->len; i++)
    {
      NearbyRepo *other = self->repos->pdata[i];

      for (guint j = 0; j < other->opt_ins->len; j++)
        {
          NearbyOptIn *opt_in = other->opt_ins->pdata[j];

          if (opt_in->problem != NULL || strcmp (opt_in->name, mine->name) != 0
              || (other == repo && strcmp (opt_in->branch, branch) == 0))
            continue;
          g_variant_dict_insert (details, "displaced-repository", "s", other->gitdir);
          g_variant_dict_insert (details, "displaced-branch", "s", opt_in->branch);
          return "served";
        }
    }
  return "served";
}

const char *
nearby_catalog_explain (NearbyCatalog *self, const char *repository, const char *branch,
                        GVariantDict *details)
{
  g_autofree char *gitdir = canonical_dir (repository);
  g_autofree char *base = g_path_get_basename (gitdir);
  g_autofree char *dir = NULL;
  g_autofree char *where = NULL;
  g_auto (GStrv) roots = NULL;
  NearbyRepo *repo = find_repo (self, gitdir);
  guint depth = 0;

  if (repo != NULL)
    {
      /* Fresh, whether or not the Changed signal came first. */
      g_clear_handle_id (&repo->reload_id, g_source_remove);
      reload_opt_ins (repo);
      rebuild (self);
      return explain_served_repo (self, repo, branch, details);
    }

  /* A working tree's .git, or a bare repository itself. */
  dir = strcmp (base, ".git") == 0 ? g_path_get_dirname (gitdir) : g_strdup (gitdir);
  roots = g_new0 (char *, g_strv_length (self->roots) + 1);
  for (guint i = 0; self->roots[i] != NULL; i++)
    roots[i] = canonical_dir (self->roots[i]);
  switch (nearby_scan_explain ((const char *const *) roots, self->max_depth, self->nested, dir,
                               &where, &depth))
    {
    case NEARBY_SCAN_FOUND:
      /* Created since the last scan, and no signal said so. */
      nearby_catalog_rescan (self);
      if ((repo = find_repo (self, gitdir)) != NULL)
        return explain_served_repo (self, repo, branch, details);
      return "not-found";
    case NEARBY_SCAN_OUTSIDE:
      g_variant_dict_insert (details, "directories", "^as", roots);
      return "outside";
    case NEARBY_SCAN_TOO_DEEP:
      g_variant_dict_insert (details, "directory", "s", where);
      g_variant_dict_insert (details, "depth", "u", depth);
      g_variant_dict_insert (details, "max-depth", "u", self->max_depth);
      return "too-deep";
    case NEARBY_SCAN_NESTED:
      g_variant_dict_insert (details, "repository", "s", where);
      return "nested";
    case NEARBY_SCAN_HIDDEN:
      g_variant_dict_insert (details, "directory", "s", where);
      return "hidden";
    case NEARBY_SCAN_NOT_A_REPOSITORY:
    default:
      return "not-found";
    }
}

static void
nearby_catalog_finalize (GObject *object)
{
  NearbyCatalog *self = NEARBY_CATALOG (object);

  g_clear_pointer (&self->by_name, g_hash_table_unref);
  g_clear_pointer (&self->repos, g_ptr_array_unref);
  g_clear_pointer (&self->reported, g_hash_table_unref);
  g_strfreev (self->roots);
  G_OBJECT_CLASS (nearby_catalog_parent_class)->finalize (object);
}

static void
nearby_catalog_class_init (NearbyCatalogClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = nearby_catalog_finalize;
  signals[SIGNAL_CHANGED] = g_signal_new ("changed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                                          0, NULL, NULL, NULL, G_TYPE_NONE, 0);
  signals[SIGNAL_TIPS_CHANGED]
      = g_signal_new ("tips-changed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL,
                      NULL, G_TYPE_NONE, 0);
}

static void
nearby_catalog_init (NearbyCatalog *self)
{
  self->reported = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  self->repos = g_ptr_array_new_with_free_func (drop_repo);
  self->by_name
      = g_hash_table_new_full (g_str_hash, g_str_equal, NULL, (GDestroyNotify) nearby_branch_unref);
}

NearbyCatalog *
nearby_catalog_new (const char *const *roots, guint max_depth, gboolean nested)
{
  NearbyCatalog *self = g_object_new (NEARBY_TYPE_CATALOG, NULL);

  self->roots = g_strdupv ((char **) roots);
  self->max_depth = max_depth;
  self->nested = nested;
  return self;
}
