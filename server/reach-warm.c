/* git-nearby: reach sets walked ahead of the requests that need them, by
 * one low-priority thread working through a queue of repositories. */
#include "reach-warm.h"

#include <errno.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "catalog-private.h"
#include "git-util.h"
#include "opt-in.h"

/* One repository to bring up to date. */
typedef struct
{
  NearbyRepo *repo; /* released on the main loop */
  char *gitdir;
  GStrv refnames;
} Warm;

struct _NearbyReachWarmer
{
  GMutex lock;
  GCond wake;
  GQueue queue;       /* Warm, oldest first */
  GHashTable *queued; /* NearbyRepo* -> its Warm in @queue */
  GPtrArray *done;    /* Warm, to release on @context */
  GSource *release;   /* attached to @context while @done waits */
  GMainContext *context;
  GThread *thread;
  GCancellable *cancellable; /* the walk in progress, at the end */
  gint stop;
  guint64 made;    /* commits in the sets made where there was none (the thread's) */
  guint made_sets; /* and how many sets */
};

static void
warm_free (Warm *warm)
{
  nearby_repo_unref (warm->repo);
  g_free (warm->gitdir);
  g_strfreev (warm->refnames);
  g_free (warm);
}

/* In the thread: each branch's set brought to its tip. */
static void
warm_repo (NearbyReachWarmer *warmer, Warm *warm)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (git_repository) git = nearby_git_open (warm->gitdir, &error);

  if (git == NULL)
    {
      g_debug ("%s: not walked ahead: %s", warm->gitdir, error->message);
      return;
    }
  for (char **refname = warm->refnames; *refname != NULL; refname++)
    {
      g_autoptr (NearbyReach) reach = NULL;
      gboolean past_bound
          = warmer->made >= NEARBY_WARM_MAX_COMMITS || warmer->made_sets >= NEARBY_WARM_MAX_SETS;
      git_oid tip;
      guint read = 0;

      if (g_atomic_int_get (&warmer->stop))
        return;
      /* Past the bound, only the sets that exist follow their tips (and a
       * branch without one needs no look at its tip). */
      if (past_bound && !nearby_repo_has_reach (warm->repo, *refname))
        continue;
      /* Gone, or unborn: nothing to walk. */
      if (git_reference_name_to_id (&tip, git, *refname) < 0)
        continue;
      reach = nearby_repo_reach (warm->repo, git, *refname, &tip, TRUE, warmer->cancellable, &read,
                                 &error);
      /* Stopped: with the server, or for a request that walks it. */
      if (reach == NULL && g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        {
          if (g_atomic_int_get (&warmer->stop))
            return;
          g_clear_error (&error);
          continue;
        }
      if (reach == NULL && error != NULL)
        {
          /* The request that needs it reports it. */
          g_debug ("%s: %s not walked ahead: %s", warm->gitdir, *refname, error->message);
          g_clear_error (&error);
        }
      warmer->made += read;
      warmer->made_sets += read > 0;
    }
}

static gboolean
on_release (gpointer user_data)
{
  NearbyReachWarmer *warmer = user_data;
  g_autoptr (GPtrArray) done = NULL;

  g_mutex_lock (&warmer->lock);
  done = g_steal_pointer (&warmer->done);
  warmer->done = g_ptr_array_new_with_free_func ((GDestroyNotify) warm_free);
  g_clear_pointer (&warmer->release, g_source_unref);
  g_mutex_unlock (&warmer->lock);
  return G_SOURCE_REMOVE;
}

static gpointer
warm_thread (gpointer data)
{
  NearbyReachWarmer *warmer = data;

  id_t tid = (id_t) syscall (SYS_gettid);
  int nice;

  /* Behind every request: a walk ahead only uses what is idle. */
  errno = 0;
  nice = getpriority (PRIO_PROCESS, tid);
  if (errno == 0 && setpriority (PRIO_PROCESS, tid, MIN (nice + 10, 19)) < 0)
    g_debug ("walks ahead at the server's priority: %s", g_strerror (errno));
  g_mutex_lock (&warmer->lock);
  for (;;)
    {
      Warm *warm;

      while (!g_atomic_int_get (&warmer->stop) && g_queue_is_empty (&warmer->queue))
        g_cond_wait (&warmer->wake, &warmer->lock);
      if (g_atomic_int_get (&warmer->stop))
        break;
      warm = g_queue_pop_head (&warmer->queue);
      g_hash_table_remove (warmer->queued, warm->repo);
      g_mutex_unlock (&warmer->lock);

      warm_repo (warmer, warm);

      g_mutex_lock (&warmer->lock);
      g_ptr_array_add (warmer->done, warm);
      if (warmer->release == NULL)
        {
          warmer->release = g_idle_source_new ();
          g_source_set_priority (warmer->release, G_PRIORITY_LOW);
          g_source_set_callback (warmer->release, on_release, warmer, NULL);
          g_source_attach (warmer->release, warmer->context);
        }
    }
  g_mutex_unlock (&warmer->lock);
  return NULL;
}

NearbyReachWarmer *
nearby_reach_warmer_new (void)
{
  NearbyReachWarmer *warmer = g_new0 (NearbyReachWarmer, 1);

  g_mutex_init (&warmer->lock);
  g_cond_init (&warmer->wake);
  g_queue_init (&warmer->queue);
  warmer->queued = g_hash_table_new (NULL, NULL);
  warmer->done = g_ptr_array_new_with_free_func ((GDestroyNotify) warm_free);
  warmer->context = g_main_context_ref_thread_default ();
  warmer->cancellable = g_cancellable_new ();
  return warmer;
}

void
nearby_reach_warmer_free (NearbyReachWarmer *warmer)
{
  if (warmer == NULL)
    return;
  g_mutex_lock (&warmer->lock);
  g_atomic_int_set (&warmer->stop, TRUE);
  g_cond_signal (&warmer->wake);
  g_mutex_unlock (&warmer->lock);
  g_cancellable_cancel (warmer->cancellable);
  if (warmer->thread != NULL)
    g_thread_join (warmer->thread);
  if (warmer->release != NULL)
    {
      g_source_destroy (warmer->release);
      g_source_unref (warmer->release);
    }
  g_ptr_array_unref (warmer->done);
  g_queue_clear_full (&warmer->queue, (GDestroyNotify) warm_free);
  g_hash_table_unref (warmer->queued);
  g_main_context_unref (warmer->context);
  g_object_unref (warmer->cancellable);
  g_cond_clear (&warmer->wake);
  g_mutex_clear (&warmer->lock);
  g_free (warmer);
}

void
nearby_reach_warmer_queue (NearbyReachWarmer *warmer, NearbyRepo *repo)
{
  g_autoptr (GStrvBuilder) builder = g_strv_builder_new ();
  g_auto (GStrv) refnames = NULL;
  Warm *warm;

  if (repo->git == NULL)
    return;
  for (guint i = 0; i < repo->opt_ins->len; i++)
    {
      NearbyOptIn *opt_in = repo->opt_ins->pdata[i];

      g_autofree char *refname = g_strconcat ("refs/heads/", opt_in->branch, NULL);

      if (opt_in->problem == NULL)
        g_strv_builder_add (builder, refname);
    }
  refnames = g_strv_builder_end (builder);
  if (refnames[0] == NULL)
    return;

  g_mutex_lock (&warmer->lock);
  if ((warm = g_hash_table_lookup (warmer->queued, repo)) != NULL)
    {
      /* Waiting still: it will read the tips then; the branches are these. */
      g_strfreev (warm->refnames);
      warm->refnames = g_steal_pointer (&refnames);
    }
  else
    {
      warm = g_new0 (Warm, 1);
      warm->repo = nearby_repo_ref (repo);
      warm->gitdir = g_strdup (repo->gitdir);
      warm->refnames = g_steal_pointer (&refnames);
      g_queue_push_tail (&warmer->queue, warm);
      g_hash_table_insert (warmer->queued, repo, warm);
    }
  if (warmer->thread == NULL)
    warmer->thread = g_thread_new ("nearby-warm", warm_thread, warmer);
  g_cond_signal (&warmer->wake);
  g_mutex_unlock (&warmer->lock);
}
