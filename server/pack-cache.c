#include "pack-cache.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "nearby-error.h"

struct _NearbyPackCache
{
  char *dir;
  guint64 max_bytes;
  guint max_jobs;
  guint running;
  GQueue queue;        /* NearbyPackJob waiting for a slot (ref held) */
  GHashTable *active;  /* key -> NearbyPackJob being produced (unowned) */
  GHashTable *entries; /* key -> Entry of a finished pack on disk */
  guint64 total;
  guint serial;
};

typedef struct
{
  guint64 size;
  gint64 used; /* monotonic µs of the last use */
} Entry;

struct _NearbyPackJob
{
  GObject parent_instance;
  NearbyPackCache *cache; /* NULL once the cache is gone */
  char *key;
  char *label;
  char *gitdir;
  char *path; /* where the pack is being written, then is */
  char *final_path;
  GPtrArray *argv;
  GBytes *input;
  GSubprocess *child;
  GCancellable *cancellable;
  int fd;
  guint64 size;
  GString *stderr_tail;
  gboolean stdout_done;
  gboolean child_done;
  gboolean child_ok;
  gboolean finished;
  gboolean succeeded;
  gboolean cached;
  char *reason;
  guint readers;
  gboolean queued;
};

G_DEFINE_TYPE (NearbyPackJob, nearby_pack_job, G_TYPE_OBJECT)

enum
{
  SIGNAL_DATA,
  SIGNAL_PROGRESS,
  SIGNAL_FINISHED,
  N_SIGNALS
};
static guint signals[N_SIGNALS];

static void start_next (NearbyPackCache *cache);

/* ---- jobs ---- */

guint64
nearby_pack_job_get_size (NearbyPackJob *job)
{
  return job->size;
}

gboolean
nearby_pack_job_is_finished (NearbyPackJob *job)
{
  return job->finished;
}

gboolean
nearby_pack_job_succeeded (NearbyPackJob *job, const char **reason)
{
  if (reason != NULL)
    *reason = job->reason;
  return job->succeeded;
}

gboolean
nearby_pack_job_was_cached (NearbyPackJob *job)
{
  return job->cached;
}

int
nearby_pack_job_open (NearbyPackJob *job, GError **error)
{
  int fd = open (job->path, O_RDONLY | O_CLOEXEC);

  if (fd < 0)
    g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errno), "cannot read %s: %s", job->path,
                 g_strerror (errno));
  return fd;
}

static void
nearby_pack_job_finalize (GObject *object)
{
  NearbyPackJob *job = NEARBY_PACK_JOB (object);

  if (job->fd >= 0)
    close (job->fd);
  g_clear_object (&job->child);
  g_clear_object (&job->cancellable);
  g_clear_pointer (&job->argv, g_ptr_array_unref);
  g_clear_pointer (&job->input, g_bytes_unref);
  g_string_free (job->stderr_tail, TRUE);
  g_free (job->key);
  g_free (job->label);
  g_free (job->gitdir);
  g_free (job->path);
  g_free (job->final_path);
  g_free (job->reason);
  G_OBJECT_CLASS (nearby_pack_job_parent_class)->finalize (object);
}

static void
nearby_pack_job_class_init (NearbyPackJobClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = nearby_pack_job_finalize;
  signals[SIGNAL_DATA] = g_signal_new ("data", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0,
                                       NULL, NULL, NULL, G_TYPE_NONE, 0);
  signals[SIGNAL_PROGRESS]
      = g_signal_new ("progress", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                      G_TYPE_NONE, 2, G_TYPE_POINTER, G_TYPE_UINT);
  signals[SIGNAL_FINISHED] = g_signal_new ("finished", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                                           0, NULL, NULL, NULL, G_TYPE_NONE, 0);
}

static void
nearby_pack_job_init (NearbyPackJob *job)
{
  job->fd = -1;
  job->stderr_tail = g_string_new (NULL);
}

/* ---- the cache's index ---- */

static void
evict (NearbyPackCache *cache, guint64 room)
{
  while (cache->total + room > cache->max_bytes && g_hash_table_size (cache->entries) > 0)
    {
      GHashTableIter iter;
      gpointer key, value;
      const char *oldest = NULL;
      gint64 oldest_used = G_MAXINT64;
      g_autofree char *path = NULL;
      Entry *entry;

      g_hash_table_iter_init (&iter, cache->entries);
      while (g_hash_table_iter_next (&iter, &key, &value))
        if (((Entry *) value)->used < oldest_used)
          {
            oldest = key;
            oldest_used = ((Entry *) value)->used;
          }
      entry = g_hash_table_lookup (cache->entries, oldest);
      path = g_strdup_printf ("%s/%s.pack", cache->dir, oldest);
      /* Readers that have it open keep reading: unlinking is safe. */
      g_unlink (path);
      cache->total -= entry->size;
      g_debug ("pack cache: evicted %s (%" G_GUINT64_FORMAT " bytes)", oldest, entry->size);
      g_hash_table_remove (cache->entries, oldest);
    }
}

/* Packs left by an earlier run are as good as new ones; half-written ones
 * are not. */
static void
load_index (NearbyPackCache *cache)
{
  g_autoptr (GDir) dir = g_dir_open (cache->dir, 0, NULL);
  const char *name;

  while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *path = g_build_filename (cache->dir, name, NULL);
      struct stat st;

      if (strstr (name, ".tmp") != NULL)
        {
          g_unlink (path);
          continue;
        }
      if (!g_str_has_suffix (name, ".pack") || strlen (name) != 64 + 5 || stat (path, &st) != 0)
        continue;
      {
        Entry *entry = g_new0 (Entry, 1);

        entry->size = st.st_size;
        entry->used
            = (gint64) st.st_mtime * G_USEC_PER_SEC - g_get_real_time () + g_get_monotonic_time ();
        g_hash_table_insert (cache->entries, g_strndup (name, 64), entry);
        cache->total += entry->size;
      }
    }
  evict (cache, 0);
}

static void
forget_missing (NearbyPackCache *cache)
{
  GHashTableIter iter;
  gpointer key, value;

  g_hash_table_iter_init (&iter, cache->entries);
  while (g_hash_table_iter_next (&iter, &key, &value))
    {
      g_autofree char *path = g_strdup_printf ("%s/%s.pack", cache->dir, (char *) key);

      if (!g_file_test (path, G_FILE_TEST_EXISTS))
        {
          cache->total -= ((Entry *) value)->size;
          g_hash_table_iter_remove (&iter);
        }
    }
}

NearbyPackCache *
nearby_pack_cache_new (const char *dir, guint64 max_bytes, guint max_jobs)
{
  NearbyPackCache *cache = g_new0 (NearbyPackCache, 1);

  cache->dir = g_strdup (dir);
  cache->max_bytes = max_bytes;
  cache->max_jobs = MAX (max_jobs, 1);
  cache->active = g_hash_table_new (g_str_hash, g_str_equal);
  cache->entries = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  g_queue_init (&cache->queue);
  if (g_mkdir_with_parents (dir, 0700) != 0)
    g_warning ("cannot make the pack directory %s: %s", dir, g_strerror (errno));
  load_index (cache);
  return cache;
}

void
nearby_pack_cache_free (NearbyPackCache *cache)
{
  GHashTableIter iter;
  gpointer value;

  if (cache == NULL)
    return;
  /* Jobs outlive the cache only as far as their readers need them. */
  g_hash_table_iter_init (&iter, cache->active);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    ((NearbyPackJob *) value)->cache = NULL;
  while (!g_queue_is_empty (&cache->queue))
    {
      NearbyPackJob *job = g_queue_pop_head (&cache->queue);

      job->cache = NULL;
      g_object_unref (job);
    }
  g_hash_table_unref (cache->active);
  g_hash_table_unref (cache->entries);
  g_free (cache->dir);
  g_free (cache);
}

/* The key: the repository, the command (less what only changes stderr) and
 * the input. */
static char *
pack_key (const NearbyPackPlan *plan, const char *gitdir)
{
  g_autoptr (GChecksum) sum = g_checksum_new (G_CHECKSUM_SHA256);

  g_checksum_update (sum, (const guchar *) gitdir, strlen (gitdir) + 1);
  for (guint i = 0; i < plan->argv->len && plan->argv->pdata[i] != NULL; i++)
    {
      const char *arg = plan->argv->pdata[i];

      if (strcmp (arg, "--progress") == 0 || strcmp (arg, "-q") == 0)
        continue;
      g_checksum_update (sum, (const guchar *) arg, strlen (arg) + 1);
    }
  g_checksum_update (sum, (const guchar *) "", 1);
  g_checksum_update (sum, (const guchar *) plan->input->str, plan->input->len);
  return g_strdup (g_checksum_get_string (sum));
}

/* ---- producing ---- */

static void
job_finish (NearbyPackJob *job)
{
  NearbyPackCache *cache = job->cache;

  if (job->finished || !job->stdout_done || !job->child_done)
    return;
  job->finished = TRUE;
  if (job->fd >= 0)
    {
      close (job->fd);
      job->fd = -1;
    }
  job->succeeded = job->child_ok && job->reason == NULL;
  if (!job->succeeded && job->reason == NULL)
    job->reason
        = g_strdup (job->stderr_tail->len > 0 ? job->stderr_tail->str : "pack-objects failed");

  if (cache != NULL)
    {
      g_hash_table_remove (cache->active, job->key);
      cache->running--;
    }
  if (!job->succeeded)
    {
      if (job->readers > 0)
        g_warning ("%s: pack-objects failed: %s", job->label, job->reason);
      g_unlink (job->path);
    }
  else if (cache != NULL && cache->max_bytes > 0 && job->size <= cache->max_bytes)
    {
      Entry *entry = g_new0 (Entry, 1);

      evict (cache, job->size);
      if (g_rename (job->path, job->final_path) == 0)
        {
          g_free (job->path);
          job->path = g_strdup (job->final_path);
          entry->size = job->size;
          entry->used = g_get_monotonic_time ();
          g_hash_table_replace (cache->entries, g_strdup (job->key), entry);
          cache->total += entry->size;
        }
      else
        g_free (entry);
    }
  else
    g_unlink (job->path); /* open readers keep reading */

  g_debug ("%s: pack of %" G_GUINT64_FORMAT " bytes %s", job->label, job->size,
           job->succeeded ? "done" : "failed");
  g_signal_emit (job, signals[SIGNAL_FINISHED], 0);
  if (cache != NULL)
    start_next (cache);
  g_object_unref (job); /* the producer's own reference */
}

static void read_stdout (NearbyPackJob *job);

static void
on_stdout (GObject *source, GAsyncResult *result, gpointer user_data)
{
  NearbyPackJob *job = user_data;
  g_autoptr (GError) error = NULL;
  g_autoptr (GBytes) bytes
      = g_input_stream_read_bytes_finish (G_INPUT_STREAM (source), result, &error);
  gsize len = bytes != NULL ? g_bytes_get_size (bytes) : 0;
  const guint8 *data = bytes != NULL ? g_bytes_get_data (bytes, NULL) : NULL;

  if (len == 0)
    {
      if (error != NULL && job->reason == NULL)
        job->reason = g_strdup_printf ("reading pack-objects: %s", error->message);
      job->stdout_done = TRUE;
      job_finish (job);
      return;
    }
  while (len > 0)
    {
      ssize_t n = write (job->fd, data, len);

      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        {
          /* A full disk: the pack cannot be whole. */
          if (job->reason == NULL)
            job->reason = g_strdup_printf ("writing %s: %s", job->path, g_strerror (errno));
          g_subprocess_force_exit (job->child);
          job->stdout_done = TRUE;
          job_finish (job);
          return;
        }
      data += n;
      len -= n;
      job->size += n;
    }
  g_signal_emit (job, signals[SIGNAL_DATA], 0);
  read_stdout (job);
}

static void
read_stdout (NearbyPackJob *job)
{
  g_input_stream_read_bytes_async (g_subprocess_get_stdout_pipe (job->child), 65536,
                                   G_PRIORITY_DEFAULT, NULL, on_stdout, job);
}

static void
on_stderr (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (NearbyPackJob) job = user_data;
  g_autoptr (GBytes) bytes
      = g_input_stream_read_bytes_finish (G_INPUT_STREAM (source), result, NULL);
  gsize len = bytes != NULL ? g_bytes_get_size (bytes) : 0;
  const char *data;

  if (len == 0)
    return;
  data = g_bytes_get_data (bytes, NULL);
  g_signal_emit (job, signals[SIGNAL_PROGRESS], 0, data, (guint) len);

  /* Keep the last line, for the log and for band 3. */
  g_string_append_len (job->stderr_tail, data, len);
  while (job->stderr_tail->len > 0
         && strchr ("\r\n", job->stderr_tail->str[job->stderr_tail->len - 1]))
    g_string_truncate (job->stderr_tail, job->stderr_tail->len - 1);
  {
    const char *nl = strrchr (job->stderr_tail->str, '\n');
    const char *cr = strrchr (job->stderr_tail->str, '\r');
    const char *last = nl > cr ? nl : cr;

    if (last != NULL)
      g_string_erase (job->stderr_tail, 0, last + 1 - job->stderr_tail->str);
    if (job->stderr_tail->len > 512)
      g_string_erase (job->stderr_tail, 0, job->stderr_tail->len - 512);
  }
  g_input_stream_read_bytes_async (G_INPUT_STREAM (source), 4096, G_PRIORITY_DEFAULT, NULL,
                                   on_stderr, g_object_ref (job));
}

static void
on_stdin_written (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (NearbyPackJob) job = user_data;

  g_output_stream_write_all_finish (G_OUTPUT_STREAM (source), result, NULL, NULL);
  g_output_stream_close (G_OUTPUT_STREAM (source), NULL, NULL);
}

static void
on_exited (GObject *source, GAsyncResult *result, gpointer user_data)
{
  NearbyPackJob *job = user_data;

  g_subprocess_wait_finish (G_SUBPROCESS (source), result, NULL);
  job->child_done = TRUE;
  job->child_ok = g_subprocess_get_successful (G_SUBPROCESS (source));
  job_finish (job);
}

void
nearby_pack_job_add_reader (NearbyPackJob *job)
{
  job->readers++;
}

void
nearby_pack_job_remove_reader (NearbyPackJob *job)
{
  g_return_if_fail (job->readers > 0);
  if (--job->readers > 0 || job->finished)
    return;
  if (job->reason == NULL)
    job->reason = g_strdup ("nobody is waiting for the pack any more");
  if (job->queued && job->cache != NULL)
    {
      /* Never started: out of the line, and done with. */
      g_queue_remove (&job->cache->queue, job);
      g_hash_table_remove (job->cache->active, job->key);
      job->queued = FALSE;
      job->finished = TRUE;
      g_object_unref (job);
      return;
    }
  if (job->child != NULL)
    {
      g_message ("%s: nobody waits for the pack any more; stopping pack-objects", job->label);
      g_subprocess_force_exit (job->child);
    }
}

static void
job_start (NearbyPackJob *job)
{
  g_autoptr (GSubprocessLauncher) launcher
      = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDIN_PIPE | G_SUBPROCESS_FLAGS_STDOUT_PIPE
                                   | G_SUBPROCESS_FLAGS_STDERR_PIPE);
  const char *unset[] = { "GIT_WORK_TREE",        "GIT_NAMESPACE",
                          "GIT_OBJECT_DIRECTORY", "GIT_ALTERNATE_OBJECT_DIRECTORIES",
                          "GIT_INDEX_FILE",       "GIT_COMMON_DIR",
                          "GIT_SHALLOW_FILE",     "GIT_REPLACE_REF_BASE" };
  g_autoptr (GError) error = NULL;

  job->cache->running++;
  job->fd = open (job->path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (job->fd < 0 && errno == ENOENT)
    {
      /* Someone cleaned the cache directory away: make it again, and forget
       * the packs that went with it. */
      g_mkdir_with_parents (job->cache->dir, 0700);
      forget_missing (job->cache);
      job->fd = open (job->path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    }
  if (job->fd < 0)
    {
      job->reason = g_strdup_printf ("cannot write %s: %s", job->path, g_strerror (errno));
      job->stdout_done = job->child_done = TRUE;
      job_finish (job);
      return;
    }
  for (gsize i = 0; i < G_N_ELEMENTS (unset); i++)
    g_subprocess_launcher_unsetenv (launcher, unset[i]);
  g_subprocess_launcher_setenv (launcher, "GIT_DIR", job->gitdir, TRUE);
  /* Replace refs could make the pack differ from the history we checked. */
  g_subprocess_launcher_setenv (launcher, "GIT_NO_REPLACE_OBJECTS", "1", TRUE);
  g_subprocess_launcher_set_cwd (launcher, job->gitdir);
  job->child
      = g_subprocess_launcher_spawnv (launcher, (const char *const *) job->argv->pdata, &error);
  if (job->child == NULL)
    {
      job->reason = g_strdup (error->message);
      job->stdout_done = job->child_done = TRUE;
      job_finish (job);
      return;
    }
  g_debug ("%s: pack-objects started (%u running)", job->label, job->cache->running);
  g_output_stream_write_all_async (g_subprocess_get_stdin_pipe (job->child),
                                   g_bytes_get_data (job->input, NULL),
                                   g_bytes_get_size (job->input), G_PRIORITY_DEFAULT, NULL,
                                   on_stdin_written, g_object_ref (job));
  g_input_stream_read_bytes_async (g_subprocess_get_stderr_pipe (job->child), 4096,
                                   G_PRIORITY_DEFAULT, NULL, on_stderr, g_object_ref (job));
  g_subprocess_wait_async (job->child, NULL, on_exited, job);
  read_stdout (job);
}

static void
start_next (NearbyPackCache *cache)
{
  while (cache->running < cache->max_jobs && !g_queue_is_empty (&cache->queue))
    {
      NearbyPackJob *job = g_queue_pop_head (&cache->queue); /* its reference goes on */

      job->queued = FALSE;
      job_start (job);
    }
}

NearbyPackJob *
nearby_pack_cache_get (NearbyPackCache *cache, const NearbyPackPlan *plan, const char *gitdir,
                       const char *label)
{
  g_autofree char *key = pack_key (plan, gitdir);
  NearbyPackJob *job = g_hash_table_lookup (cache->active, key);
  Entry *entry;

  if (job != NULL)
    {
      g_debug ("%s: sharing the pack being made for an identical request", label);
      return g_object_ref (job);
    }

  job = g_object_new (NEARBY_TYPE_PACK_JOB, NULL);
  job->cache = cache;
  job->key = g_steal_pointer (&key);
  job->label = g_strdup (label);
  job->final_path = g_strdup_printf ("%s/%s.pack", cache->dir, job->key);

  entry = g_hash_table_lookup (cache->entries, job->key);
  if (entry != NULL && g_file_test (job->final_path, G_FILE_TEST_EXISTS))
    {
      entry->used = g_get_monotonic_time ();
      job->path = g_strdup (job->final_path);
      job->size = entry->size;
      job->finished = job->succeeded = job->cached = TRUE;
      g_debug ("%s: pack from the cache", label);
      return job;
    }
  if (entry != NULL)
    {
      cache->total -= entry->size;
      g_hash_table_remove (cache->entries, job->key);
    }

  job->gitdir = g_strdup (gitdir);
  job->path = g_strdup_printf ("%s/%s.pack.tmp-%d-%u", cache->dir, job->key, (int) getpid (),
                               ++cache->serial);
  job->argv = g_ptr_array_ref (plan->argv);
  job->input = g_bytes_new (plan->input->str, plan->input->len);
  g_hash_table_insert (cache->active, job->key, job);

  /* The producer holds a reference until it finishes. */
  job->queued = TRUE;
  g_queue_push_tail (&cache->queue, g_object_ref (job));
  if (cache->running >= cache->max_jobs)
    g_message ("%s: %u pack-objects running; waiting for a turn", label, cache->running);
  start_next (cache);
  return job;
}
