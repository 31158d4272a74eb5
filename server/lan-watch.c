#include "config.h"

#include "lan-watch.h"

#include <string.h>

#include "browser.h"

#define DEFAULT_IDLE_MS (5 * 60 * 1000)
#define DEFAULT_WAIT_MS 3000

/* Where a run is: browsing for the first time, past its first browse
 * (COMPLETE), or over (cancelled, or it failed: no avahi-daemon). */
typedef enum
{
  RUN_STARTING,
  RUN_COMPLETE,
  RUN_OVER,
} RunState;

/* One browse, from a first request to the idle stop. Shared by the thread
 * that browses and the main context; the lock guards what both touch. */
typedef struct
{
  gatomicrefcount ref;
  GMutex lock;
  RunState state;       /* under lock */
  GHashTable *services; /* under lock: NearbyService id -> NearbyService */
  char *error;          /* under lock: why it is over, unless cancelled */
  gboolean lost;        /* under lock: avahi-daemon went away, not yet back */
  GCancellable *cancellable;
  GThread *thread;
  GMainContext *main_context; /* the watch's, told of each change of state */
  NearbyLanWatch *watch;      /* main context only; NULL once stopped */
} Run;

struct _NearbyLanWatch
{
  GMainContext *context;
  Run *run;       /* NULL: not browsing */
  GQueue waiting; /* Waiting: requests held until the first browse is over */
  GSource *idle;  /* the stop after idle_ms without a request */
  guint idle_ms;
  guint wait_ms;
  char *said; /* the last error logged: each request tries again, the log says it once */
};

/* A request waiting for the first browse, at most wait_ms. */
typedef struct
{
  NearbyLanWatch *watch;
  GTask *task;
  GSource *timeout;
} Waiting;

void
nearby_lan_view_free (NearbyLanView *view)
{
  if (view == NULL)
    return;
  g_ptr_array_unref (view->services);
  g_free (view->error);
  g_free (view);
}

static Run *
run_ref (Run *run)
{
  g_atomic_ref_count_inc (&run->ref);
  return run;
}

static void
run_unref (Run *run)
{
  if (!g_atomic_ref_count_dec (&run->ref))
    return;
  g_mutex_clear (&run->lock);
  g_hash_table_unref (run->services);
  g_free (run->error);
  g_object_unref (run->cancellable);
  g_main_context_unref (run->main_context);
  g_free (run);
}

static RunState
run_state (Run *run)
{
  RunState state;

  g_mutex_lock (&run->lock);
  state = run->state;
  g_mutex_unlock (&run->lock);
  return state;
}

/* Why @run cannot browse, or NULL; under its lock. What a lost daemon
 * leaves stays listed (servers that stop answering still go). */
static const char *
run_problem (Run *run)
{
  if (run->error == NULL && run->lost)
    return "avahi-daemon went away; the branches listed were seen before it did";
  return run->error;
}

/* A copy of what @run has seen, to read without the lock. */
static NearbyLanView *
run_view (Run *run)
{
  NearbyLanView *view = g_new0 (NearbyLanView, 1);
  GHashTableIter iter;
  gpointer value;

  view->services = g_ptr_array_new_with_free_func ((GDestroyNotify) nearby_service_free);
  g_mutex_lock (&run->lock);
  g_hash_table_iter_init (&iter, run->services);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    g_ptr_array_add (view->services, nearby_service_copy (value));
  view->error = g_strdup (run_problem (run));
  view->complete = run->state != RUN_STARTING;
  g_mutex_unlock (&run->lock);
  g_ptr_array_sort (view->services, nearby_service_compare);
  return view;
}

/* ---- the browsing thread ---- */

static gboolean on_told (gpointer user_data);

/* Tells the watch, on its own context, that @run's state changed. */
static void
tell_watch (Run *run)
{
  g_main_context_invoke_full (run->main_context, G_PRIORITY_DEFAULT, on_told, run_ref (run),
                              (GDestroyNotify) run_unref);
}

static void
on_event (NearbyBrowseEvent event, const NearbyService *service, gpointer user_data)
{
  Run *run = user_data;
  gboolean told = FALSE;

  g_mutex_lock (&run->lock);
  switch (event)
    {
    case NEARBY_BROWSE_APPEARED:
    case NEARBY_BROWSE_CHANGED:
      g_hash_table_replace (run->services, g_strdup (service->id), nearby_service_copy (service));
      break;
    case NEARBY_BROWSE_VANISHED:
      g_hash_table_remove (run->services, service->id);
      break;
    case NEARBY_BROWSE_COMPLETE:
      if (run->state == RUN_STARTING || run->lost)
        {
          run->state = RUN_COMPLETE;
          run->lost = FALSE;
          told = TRUE;
        }
      break;
    case NEARBY_BROWSE_LOST:
      run->lost = TRUE;
      told = TRUE;
      break;
    }
  g_mutex_unlock (&run->lock);
  if (told)
    tell_watch (run);
}

static gpointer
run_thread (gpointer data)
{
  Run *run = data;
  g_autoptr (GMainContext) context = g_main_context_new ();
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) last = NULL;

  /* The browser works on the thread-default context: this one, never the
   * server's. */
  g_main_context_push_thread_default (context);
  g_debug ("browsing the LAN for /nearby");
  last = nearby_browse (0, TRUE, on_event, run, run->cancellable, &error);
  /* Let what was cancelled (the liveness probes) finish, bounded. */
  for (guint i = 0; i < 100 && g_main_context_pending (context); i++)
    g_main_context_iteration (context, FALSE);
  g_main_context_pop_thread_default (context);

  g_mutex_lock (&run->lock);
  run->state = RUN_OVER;
  if (error != NULL && !g_cancellable_is_cancelled (run->cancellable))
    run->error = g_strdup (error->message);
  g_mutex_unlock (&run->lock);
  tell_watch (run);
  run_unref (run);
  return NULL;
}

/* ---- the watch, on its main context ---- */

static void
waiting_answer (Waiting *waiting, Run *run)
{
  NearbyLanView *view;

  if (run != NULL)
    view = run_view (run);
  else
    {
      view = g_new0 (NearbyLanView, 1);
      view->services = g_ptr_array_new_with_free_func ((GDestroyNotify) nearby_service_free);
      view->error = g_strdup ("the server is stopping");
    }
  g_source_destroy (waiting->timeout);
  g_source_unref (waiting->timeout);
  g_task_return_pointer (waiting->task, view, (GDestroyNotify) nearby_lan_view_free);
  g_object_unref (waiting->task);
  g_free (waiting);
}

static void
answer_all (NearbyLanWatch *watch)
{
  Waiting *waiting;

  while ((waiting = g_queue_pop_head (&watch->waiting)) != NULL)
    waiting_answer (waiting, watch->run);
}

static gboolean
on_told (gpointer user_data)
{
  Run *run = user_data;
  NearbyLanWatch *watch = run->watch;
  const char *problem;

  /* A run that was stopped has no one to tell. */
  if (watch == NULL || watch->run != run || run_state (run) == RUN_STARTING)
    return G_SOURCE_REMOVE;
  g_mutex_lock (&run->lock);
  problem = run_problem (run);
  if (problem != NULL && g_strcmp0 (problem, watch->said) != 0)
    {
      g_message ("/nearby cannot browse the network: %s", problem);
      g_free (watch->said);
      watch->said = g_strdup (problem);
    }
  else if (problem == NULL && run->state == RUN_COMPLETE && watch->said != NULL)
    {
      g_message ("/nearby browses the network again");
      g_clear_pointer (&watch->said, g_free);
    }
  g_mutex_unlock (&run->lock);
  answer_all (watch);
  return G_SOURCE_REMOVE;
}

static gboolean
on_waited (gpointer user_data)
{
  Waiting *waiting = user_data;
  NearbyLanWatch *watch = waiting->watch;

  g_debug ("the first browse of the LAN is not over after %u ms: answering with what is there",
           watch->wait_ms);
  g_queue_remove (&watch->waiting, waiting);
  waiting_answer (waiting, watch->run);
  return G_SOURCE_REMOVE;
}

static void
watch_stop (NearbyLanWatch *watch)
{
  Run *run = g_steal_pointer (&watch->run);

  if (run == NULL)
    return;
  run->watch = NULL;
  g_cancellable_cancel (run->cancellable);
  /* Cancelled, the browse frees its Avahi objects and returns at once. */
  g_thread_join (run->thread);
  run_unref (run);
}

static gboolean
on_idle (gpointer user_data)
{
  NearbyLanWatch *watch = user_data;

  g_clear_pointer (&watch->idle, g_source_unref);
  if (watch->run != NULL)
    g_debug ("no request for /nearby in %u s: not browsing the LAN any more",
             watch->idle_ms / 1000);
  watch_stop (watch);
  return G_SOURCE_REMOVE;
}

static void
watch_start (NearbyLanWatch *watch)
{
  Run *run = g_new0 (Run, 1);

  g_atomic_ref_count_init (&run->ref);
  g_mutex_init (&run->lock);
  run->state = RUN_STARTING;
  run->services = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
                                         (GDestroyNotify) nearby_service_free);
  run->cancellable = g_cancellable_new ();
  run->main_context = g_main_context_ref (watch->context);
  run->watch = watch;
  run->thread = g_thread_new ("nearby-lan", run_thread, run_ref (run));
  watch->run = run;
}

/* Restarts the idle timer: a request was made. */
static void
watch_touch (NearbyLanWatch *watch)
{
  if (watch->idle != NULL)
    {
      g_source_destroy (watch->idle);
      g_source_unref (watch->idle);
    }
  watch->idle = g_timeout_source_new (watch->idle_ms);
  g_source_set_callback (watch->idle, on_idle, watch, NULL);
  g_source_attach (watch->idle, watch->context);
}

static guint
env_ms (const char *name, guint fallback)
{
  const char *env = g_getenv (name);
  guint64 ms = env != NULL ? g_ascii_strtoull (env, NULL, 10) : 0;

  return ms >= 10 && ms <= 3600000 ? (guint) ms : fallback;
}

NearbyLanWatch *
nearby_lan_watch_new (void)
{
  NearbyLanWatch *watch = g_new0 (NearbyLanWatch, 1);

  watch->context = g_main_context_ref_thread_default ();
  g_queue_init (&watch->waiting);
  /* The tests shorten both. */
  watch->idle_ms = env_ms ("GIT_NEARBY_LAN_IDLE_MS", DEFAULT_IDLE_MS);
  watch->wait_ms = env_ms ("GIT_NEARBY_LAN_WAIT_MS", DEFAULT_WAIT_MS);
  return watch;
}

void
nearby_lan_watch_free (NearbyLanWatch *watch)
{
  if (watch == NULL)
    return;
  answer_all (watch);
  watch_stop (watch);
  if (watch->idle != NULL)
    {
      g_source_destroy (watch->idle);
      g_source_unref (watch->idle);
    }
  g_main_context_unref (watch->context);
  g_free (watch->said);
  g_free (watch);
}

void
nearby_lan_watch_get_async (NearbyLanWatch *watch, GAsyncReadyCallback callback, gpointer user_data)
{
  g_autoptr (GTask) task = g_task_new (NULL, NULL, callback, user_data);
  Waiting *waiting;

  g_task_set_source_tag (task, nearby_lan_watch_get_async);
  watch_touch (watch);
  /* Over: it failed (no avahi-daemon, say). Each request tries again. */
  if (watch->run != NULL && run_state (watch->run) == RUN_OVER)
    watch_stop (watch);
  if (watch->run == NULL)
    watch_start (watch);
  if (run_state (watch->run) != RUN_STARTING)
    {
      g_task_return_pointer (task, run_view (watch->run), (GDestroyNotify) nearby_lan_view_free);
      return;
    }
  waiting = g_new0 (Waiting, 1);
  waiting->watch = watch;
  waiting->task = g_steal_pointer (&task);
  waiting->timeout = g_timeout_source_new (watch->wait_ms);
  g_source_set_callback (waiting->timeout, on_waited, waiting, NULL);
  g_source_attach (waiting->timeout, watch->context);
  g_queue_push_tail (&watch->waiting, waiting);
}

NearbyLanView *
nearby_lan_watch_get_finish (NearbyLanWatch *watch, GAsyncResult *result)
{
  g_return_val_if_fail (g_task_is_valid (result, NULL), NULL);
  return g_task_propagate_pointer (G_TASK (result), NULL);
}
