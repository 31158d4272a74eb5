/* git-nearby: one served repository, watched — its opt-ins read again when
 * its config is edited, its tips when a ref is written, and the root
 * commit of each tip found (first parents, in a worker thread when the way
 * down is long). */
#include "repo-watch.h"

#include <stdlib.h>
#include <string.h>

#include "catalog-private.h"
#include "git-util.h"
#include "opt-in.h"

#define CONFIG_SETTLE_MS 50

NearbyRepo *
nearby_repo_ref (NearbyRepo *repo)
{
  g_atomic_ref_count_inc (&repo->ref_count);
  return repo;
}

void
nearby_repo_unref (NearbyRepo *repo)
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
  g_cond_clear (&repo->ahead_done);
  g_clear_pointer (&repo->roots, g_hash_table_unref);
  g_clear_pointer (&repo->root_walks, g_hash_table_unref);
  git_repository_free (repo->git);
  g_free (repo->gitdir);
  g_free (repo);
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
  nearby_repo_unref (walk->repo);
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
  nearby_catalog_emit_changed (repo->catalog);
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
  walk->repo = nearby_repo_ref (repo);
  walk->gitdir = g_strdup (repo->gitdir);
  git_oid_cpy (&walk->tip, tip);
  g_hash_table_add (repo->root_walks, g_memdup2 (tip, sizeof *tip));
  task = g_task_new (NULL, NULL, on_root_walk_done, NULL);
  g_task_set_task_data (task, walk, (GDestroyNotify) root_walk_free);
  g_task_run_in_thread (task, root_walk_in_thread);
  return FALSE;
}

static gboolean
on_tips_timeout (gpointer user_data)
{
  NearbyRepo *repo = user_data;

  repo->tips_id = 0;
  if (repo->catalog != NULL)
    {
      nearby_catalog_warm (repo->catalog, repo);
      nearby_catalog_emit_tips_changed (repo->catalog);
    }
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
  if (repo->catalog != NULL)
    nearby_catalog_warm (repo->catalog, repo);
  return TRUE;
}

void
nearby_repo_reload (NearbyRepo *repo)
{
  g_clear_handle_id (&repo->reload_id, g_source_remove);
  reload_opt_ins (repo);
}

static gboolean
on_reload_timeout (gpointer user_data)
{
  NearbyRepo *repo = user_data;

  repo->reload_id = 0;
  g_debug ("%s: config changed, re-reading its opt-ins", repo->gitdir);
  reload_opt_ins (repo);
  if (repo->catalog != NULL)
    nearby_catalog_rebuild (repo->catalog);
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

char *
nearby_canonical_dir (const char *path)
{
  g_autofree char *real = realpath (path, NULL);
  char *result = g_strdup (real != NULL ? real : path);
  gsize len = strlen (result);

  while (len > 1 && result[len - 1] == '/')
    result[--len] = '\0';
  return result;
}

NearbyRepo *
nearby_repo_open (NearbyCatalog *catalog, const char *found, GError **error)
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
  repo->gitdir = nearby_canonical_dir (common);
  repo->reach = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
                                       (GDestroyNotify) nearby_reach_unref);
  g_mutex_init (&repo->reach_lock);
  g_cond_init (&repo->ahead_done);
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
