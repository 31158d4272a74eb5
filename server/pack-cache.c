#include "pack-cache.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <string.h>
#include <sys/file.h>
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
  char *tmp_tag; /* "<pid>-<random>": this process's temporaries */
};

/* A finished pack on disk. Its content is checked in full (header and
 * trailer, see verify_pack) once: at its first use after a start, since it
 * may have been damaged while no one looked; a pack we wrote ourselves was
 * fsync'ed and is trusted. After that a hit only compares the file's
 * identity (device, inode, size, mtime, ctime) with the one recorded: any
 * write to the file, truncation or replacement changes the ctime, which no
 * one can set back. Hashing on every hit would cost more than sending: on
 * a 30 MB pack the check takes 50-70 ms of CPU, while sending it from the
 * cache costs the server 10-20 ms. */
typedef struct
{
  guint64 size;
  gint64 used; /* monotonic µs of the last use */
  gboolean verified;
  dev_t dev;
  ino_t ino;
  struct timespec mtime, ctime;
} Entry;

/* Bytes of pack-objects' output kept in memory, when they cannot go to the
 * file, before pack-objects is made to wait for the slowest reader. */
#define MEMORY_MAX (8u << 20)

struct _NearbyPackJob
{
  GObject parent_instance;
  NearbyPackCache *cache; /* NULL once the cache is gone */
  char *key;
  char *label;
  char *gitdir;
  char *path; /* where the pack is being written, then is (NULL: nowhere) */
  char *final_path;
  GPtrArray *argv;
  GBytes *input;
  GSubprocess *child;
  GCancellable *cancellable;
  int fd;            /* the pack's file, read and written (-1: none) */
  guint64 file_size; /* bytes of the pack in the file */
  /* Without a file (it could not be made, or written to the end), the rest
   * of the pack goes through memory: bytes [mem_start, mem_start + mem->len)
   * of it, until every reader is past them. */
  GByteArray *mem;
  guint64 mem_start;
  gboolean stdout_paused;
  GPtrArray *readers_list; /* NearbyPackReader (unowned) */
  GString *stderr_tail;
  GString *stderr_line; /* the start of a line of stderr not yet ended */
  gboolean stdout_done;
  gboolean child_done;
  gboolean child_ok;
  gboolean finished;
  gboolean succeeded;
  gboolean cached;
  char *reason; /* for the client: names no path, pid or object */
  guint readers;
  gboolean queued;
  gboolean stopping;
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
  return job->mem != NULL ? job->mem_start + job->mem->len : job->file_size;
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

static void read_stdout (NearbyPackJob *job);

/* Drops the bytes in memory that every reader has, and lets pack-objects
 * go on once there is room. */
static void
trim_memory (NearbyPackJob *job)
{
  guint64 low = nearby_pack_job_get_size (job);
  guint64 drop;

  if (job->mem == NULL)
    return;
  for (guint i = 0; i < job->readers_list->len; i++)
    low = MIN (low, ((NearbyPackReader *) job->readers_list->pdata[i])->offset);
  /* In steps of a quarter of the buffer: each drop moves what is left. */
  if (low >= job->mem_start + MEMORY_MAX / 4
      || (low > job->mem_start && low == nearby_pack_job_get_size (job)))
    {
      drop = low - job->mem_start;
      g_byte_array_remove_range (job->mem, 0, drop);
      job->mem_start += drop;
    }
  if (job->stdout_paused && job->mem->len < MEMORY_MAX / 2 && job->child != NULL)
    {
      job->stdout_paused = FALSE;
      read_stdout (job);
    }
}

gssize
nearby_pack_job_read (NearbyPackJob *job, NearbyPackReader *reader, guint8 *dest, gsize len,
                      GError **error)
{
  guint64 size = nearby_pack_job_get_size (job);
  gssize n;

  len = MIN (len, size - MIN (reader->offset, size));
  if (len == 0)
    return 0;
  if (reader->offset < job->file_size)
    {
      len = MIN (len, job->file_size - reader->offset);
      do
        n = pread (job->fd, dest, len, reader->offset);
      while (n < 0 && errno == EINTR);
      if (n <= 0)
        {
          int saved = n < 0 ? errno : EIO;

          g_warning ("%s: reading the pack at %" G_GUINT64_FORMAT ": %s", job->label,
                     reader->offset, n < 0 ? g_strerror (saved) : "the file is shorter");
          g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved), "cannot read the pack: %s",
                       g_strerror (saved));
          return -1;
        }
      reader->offset += n;
      return n;
    }
  if (job->mem == NULL || reader->offset < job->mem_start)
    {
      /* Cannot happen: memory is only dropped once every reader has it. */
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_FAILED, "the pack was lost");
      return -1;
    }
  memcpy (dest, job->mem->data + (reader->offset - job->mem_start), len);
  reader->offset += len;
  trim_memory (job);
  return len;
}

static void
nearby_pack_job_finalize (GObject *object)
{
  NearbyPackJob *job = NEARBY_PACK_JOB (object);

  if (job->fd >= 0)
    close (job->fd);
  g_clear_pointer (&job->mem, g_byte_array_unref);
  g_ptr_array_unref (job->readers_list);
  g_clear_object (&job->child);
  g_clear_object (&job->cancellable);
  g_clear_pointer (&job->argv, g_ptr_array_unref);
  g_clear_pointer (&job->input, g_bytes_unref);
  g_string_free (job->stderr_tail, TRUE);
  g_string_free (job->stderr_line, TRUE);
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
  job->stderr_line = g_string_new (NULL);
  job->readers_list = g_ptr_array_new ();
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

/* Whether the @size bytes in @fd are a whole pack: "PACK", version 2 or 3,
 * and a trailer that is the hash of everything before it (SHA-1, or SHA-256
 * in a repository of that format). */
static gboolean
verify_pack (int fd, guint64 size, const char **why)
{
  g_autoptr (GChecksum) sha1 = g_checksum_new (G_CHECKSUM_SHA1);
  g_autofree guint8 *buf = g_malloc (1 << 20);
  guint8 head[12], tail[32], digest[32];
  gsize digest_len = 20;
  guint32 version;

  *why = "shorter than a pack";
  if (size < 12 + 20 || pread (fd, head, 12, 0) != 12)
    return FALSE;
  memcpy (&version, head + 4, 4);
  version = GUINT32_FROM_BE (version);
  *why = "no pack header";
  if (memcmp (head, "PACK", 4) != 0 || (version != 2 && version != 3))
    return FALSE;
  for (int pass = 0; pass < 2; pass++)
    {
      gsize hash_len = pass == 0 ? 20 : 32;
      g_autoptr (GChecksum) sum
          = pass == 0 ? g_steal_pointer (&sha1) : g_checksum_new (G_CHECKSUM_SHA256);
      guint64 end = size - hash_len;

      if (size < 12 + hash_len)
        break;
      for (guint64 at = 0; at < end;)
        {
          gssize n = pread (fd, buf, MIN ((guint64) 1 << 20, end - at), at);

          if (n < 0 && errno == EINTR)
            continue;
          *why = "unreadable";
          if (n <= 0)
            return FALSE;
          g_checksum_update (sum, buf, n);
          at += n;
        }
      digest_len = hash_len;
      g_checksum_get_digest (sum, digest, &digest_len);
      if (pread (fd, tail, hash_len, end) == (gssize) hash_len
          && memcmp (tail, digest, hash_len) == 0)
        return TRUE;
    }
  *why = "its trailer is not the hash of its content";
  return FALSE;
}

static void
entry_set_identity (Entry *entry, const struct stat *st)
{
  entry->size = st->st_size;
  entry->dev = st->st_dev;
  entry->ino = st->st_ino;
  entry->mtime = st->st_mtim;
  entry->ctime = st->st_ctim;
}

static gboolean
entry_same_identity (const Entry *entry, const struct stat *st)
{
  return entry->size == (guint64) st->st_size && entry->dev == st->st_dev
         && entry->ino == st->st_ino && entry->mtime.tv_sec == st->st_mtim.tv_sec
         && entry->mtime.tv_nsec == st->st_mtim.tv_nsec && entry->ctime.tv_sec == st->st_ctim.tv_sec
         && entry->ctime.tv_nsec == st->st_ctim.tv_nsec;
}

/* A temporary whose writer is gone: writers hold an exclusive flock on
 * theirs as long as they write (pids are reused; locks die with their
 * holder). Unlinking one a writer has just made and not yet locked does no
 * harm either: its readers read the writer's descriptor, and only its
 * entry is lost. */
static gboolean
temporary_is_abandoned (const char *path)
{
  int fd = open (path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  gboolean abandoned;

  if (fd < 0)
    return FALSE;
  abandoned = flock (fd, LOCK_EX | LOCK_NB) == 0;
  close (fd);
  return abandoned;
}

/* Packs left by an earlier run are good once checked (at first use);
 * half-written ones are not, unless another live server is writing them. */
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
          if (temporary_is_abandoned (path))
            {
              g_debug ("pack cache: removing the abandoned %s", name);
              g_unlink (path);
            }
          continue;
        }
      if (!g_str_has_suffix (name, ".pack") || strlen (name) != 64 + 5 || stat (path, &st) != 0
          || !S_ISREG (st.st_mode))
        continue;
      {
        Entry *entry = g_new0 (Entry, 1);

        entry_set_identity (entry, &st);
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
  cache->tmp_tag = g_strdup_printf ("%d-%08x", (int) getpid (), g_random_int ());
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
  g_free (cache->tmp_tag);
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

/* Out of the index of running jobs: new requests get a new job. */
static void
job_unlist (NearbyPackJob *job)
{
  if (job->cache != NULL && g_hash_table_lookup (job->cache->active, job->key) == job)
    g_hash_table_remove (job->cache->active, job->key);
}

/* The finished pack becomes an entry, if it is whole, on disk and fits. */
static void
job_keep (NearbyPackJob *job)
{
  NearbyPackCache *cache = job->cache;
  g_autofree char *dir_path = NULL;
  struct stat st;
  Entry *entry;
  int dir_fd;

  if (cache == NULL || job->mem != NULL || job->fd < 0 || cache->max_bytes == 0
      || job->file_size > cache->max_bytes)
    return;
  /* Durable before it has its name: a crash must not leave a short entry. */
  if (fsync (job->fd) != 0)
    {
      g_message ("%s: not keeping the pack: %s", job->label, g_strerror (errno));
      return;
    }
  evict (cache, job->file_size);
  if (g_rename (job->path, job->final_path) != 0)
    {
      /* E.g. a second server removed it: the readers have our descriptor. */
      g_message ("%s: not keeping the pack: %s", job->label, g_strerror (errno));
      return;
    }
  dir_path = g_path_get_dirname (job->final_path);
  dir_fd = open (dir_path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir_fd >= 0)
    {
      fsync (dir_fd);
      close (dir_fd);
    }
  g_free (job->path);
  job->path = g_strdup (job->final_path);
  /* After the rename, which changes the ctime. */
  if (fstat (job->fd, &st) != 0 || (guint64) st.st_size != job->file_size)
    {
      g_unlink (job->final_path); /* no entry would account for it */
      return;
    }
  entry = g_new0 (Entry, 1);
  entry_set_identity (entry, &st);
  entry->verified = TRUE;
  entry->used = g_get_monotonic_time ();
  if (g_hash_table_contains (cache->entries, job->key))
    cache->total -= ((Entry *) g_hash_table_lookup (cache->entries, job->key))->size;
  g_hash_table_replace (cache->entries, g_strdup (job->key), entry);
  cache->total += entry->size;
}

static void
job_finish (NearbyPackJob *job)
{
  NearbyPackCache *cache = job->cache;

  if (job->finished || !job->stdout_done || !job->child_done)
    return;
  job->finished = TRUE;
  job->succeeded = job->child_ok && job->reason == NULL;
  if (!job->succeeded && job->reason == NULL)
    {
      /* Its stderr names paths and objects of the server: for the log. */
      g_warning ("%s: pack-objects failed: %s", job->label,
                 job->stderr_tail->len > 0 ? job->stderr_tail->str : "(no message)");
      job->reason = g_strdup ("the server could not make the pack (its log says why)");
    }

  job_unlist (job);
  if (cache != NULL)
    cache->running--;
  if (job->succeeded)
    job_keep (job);
  if (strcmp (job->path, job->final_path) != 0)
    g_unlink (job->path); /* open readers keep reading */

  g_debug ("%s: pack of %" G_GUINT64_FORMAT " bytes %s", job->label, nearby_pack_job_get_size (job),
           job->succeeded ? "done" : "failed");
  g_signal_emit (job, signals[SIGNAL_FINISHED], 0);
  if (cache != NULL)
    start_next (cache);
  g_object_unref (job); /* the producer's own reference */
}

/* From now on the pack goes through memory: new requests cannot read it
 * from its start, so they get a job of their own. */
static void
job_to_memory (NearbyPackJob *job, int err)
{
  if (job->mem != NULL)
    return;
  g_message ("%s: the pack cache cannot take the pack (%s); streaming it from memory", job->label,
             g_strerror (err));
  job->mem = g_byte_array_new ();
  job->mem_start = job->file_size;
  job_unlist (job);
}

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
        {
          g_warning ("%s: reading pack-objects: %s", job->label, error->message);
          job->reason = g_strdup ("the server could not read the pack");
        }
      job->stdout_done = TRUE;
      job_finish (job);
      return;
    }
  while (len > 0 && job->mem == NULL)
    {
      ssize_t n = job->fd >= 0 ? write (job->fd, data, len) : -1;

      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        {
          /* A full or read-only disk: the cache is only an optimisation. */
          job_to_memory (job, job->fd >= 0 ? errno : EROFS);
          break;
        }
      data += n;
      len -= n;
      job->file_size += n;
    }
  if (len > 0)
    g_byte_array_append (job->mem, data, len);
  g_signal_emit (job, signals[SIGNAL_DATA], 0);
  /* The readers may have taken it all during the signal. */
  if (job->mem != NULL)
    trim_memory (job);
  if (job->mem != NULL && job->mem->len >= MEMORY_MAX)
    job->stdout_paused = TRUE; /* trim_memory () goes on */
  else
    read_stdout (job);
}

static void
read_stdout (NearbyPackJob *job)
{
  g_input_stream_read_bytes_async (g_subprocess_get_stdout_pipe (job->child), 65536,
                                   G_PRIORITY_DEFAULT, NULL, on_stdout, job);
}

/* Only pack-objects' progress goes to the clients; its errors and warnings
 * name the repository's paths and objects, and go to the log. */
static gboolean
is_progress (const char *line)
{
  static const char *const prefixes[] = { "Enumerating objects",
                                          "Counting objects",
                                          "Compressing objects",
                                          "Writing objects",
                                          "Delta compression",
                                          "Total ",
                                          "Reusing" };

  for (gsize i = 0; i < G_N_ELEMENTS (prefixes); i++)
    if (g_str_has_prefix (line, prefixes[i]))
      return TRUE;
  return FALSE;
}

static void
forward_progress (NearbyPackJob *job, const char *data, gsize len)
{
  for (gsize i = 0; i < len; i++)
    {
      g_string_append_c (job->stderr_line, data[i]);
      if (data[i] != '\r' && data[i] != '\n')
        {
          if (job->stderr_line->len > 4096) /* no progress line is that long */
            g_string_erase (job->stderr_line, 0, 2048);
          continue;
        }
      if (is_progress (job->stderr_line->str))
        g_signal_emit (job, signals[SIGNAL_PROGRESS], 0, job->stderr_line->str,
                       (guint) job->stderr_line->len);
      else if (job->stderr_line->len > 1)
        g_message ("%s: pack-objects: %.*s", job->label, (int) job->stderr_line->len - 1,
                   job->stderr_line->str);
      g_string_truncate (job->stderr_line, 0);
    }
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
    {
      if (job->stderr_line->len > 0)
        g_message ("%s: pack-objects: %s", job->label, job->stderr_line->str);
      return;
    }
  data = g_bytes_get_data (bytes, NULL);
  forward_progress (job, data, len);

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
nearby_pack_job_add_reader (NearbyPackJob *job, NearbyPackReader *reader)
{
  g_return_if_fail (!job->stopping);
  reader->offset = 0;
  g_ptr_array_add (job->readers_list, reader);
  job->readers++;
}

void
nearby_pack_job_remove_reader (NearbyPackJob *job, NearbyPackReader *reader)
{
  g_return_if_fail (job->readers > 0);
  g_ptr_array_remove_fast (job->readers_list, reader);
  if (--job->readers > 0 || job->finished)
    {
      trim_memory (job);
      return;
    }
  /* Stopping: no one may join it any more (they would get its failure). */
  job->stopping = TRUE;
  job_unlist (job);
  if (job->reason == NULL)
    job->reason = g_strdup ("nobody is waiting for the pack any more");
  if (job->queued && job->cache != NULL)
    {
      /* Never started: out of the line, and done with. */
      g_queue_remove (&job->cache->queue, job);
      job->queued = FALSE;
      job->finished = TRUE;
      g_object_unref (job);
      return;
    }
  if (job->child != NULL)
    {
      g_message ("%s: nobody waits for the pack any more; stopping pack-objects", job->label);
      g_subprocess_force_exit (job->child);
      if (job->stdout_paused)
        {
          /* Read on to the end, so that the job finishes. */
          job->stdout_paused = FALSE;
          read_stdout (job);
        }
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
  /* Read and written: readers pread the writer's descriptor, so a file
   * unlinked under it (by a second server, or by hand) harms no one. */
  job->fd = open (job->path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (job->fd < 0 && errno == ENOENT)
    {
      /* Someone cleaned the cache directory away: make it again, and forget
       * the packs that went with it. */
      g_mkdir_with_parents (job->cache->dir, 0700);
      forget_missing (job->cache);
      job->fd = open (job->path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    }
  if (job->fd >= 0)
    flock (job->fd, LOCK_EX | LOCK_NB); /* ours, live: see temporary_is_abandoned () */
  else
    job_to_memory (job, errno);
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
      g_warning ("%s: %s", job->label, error->message);
      job->reason = g_strdup ("the server could not start pack-objects");
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
  if (entry != NULL)
    {
      int fd = open (job->final_path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
      struct stat st = { 0 };
      const char *why = "gone";
      gboolean good = FALSE;

      if (fd >= 0 && fstat (fd, &st) == 0 && S_ISREG (st.st_mode))
        {
          good = entry->verified && entry_same_identity (entry, &st);
          if (!good)
            {
              gint64 t0 = g_get_monotonic_time ();

              good = verify_pack (fd, st.st_size, &why);
              g_debug ("%s: checked the cached pack (%" G_GUINT64_FORMAT " bytes) in %.1f ms",
                       label, (guint64) st.st_size, (g_get_monotonic_time () - t0) / 1000.0);
            }
        }
      if (good)
        {
          cache->total += st.st_size - entry->size;
          entry_set_identity (entry, &st);
          entry->verified = TRUE;
          entry->used = g_get_monotonic_time ();
          job->fd = fd;
          job->path = g_strdup (job->final_path);
          job->file_size = entry->size;
          job->finished = job->succeeded = job->cached = TRUE;
          g_debug ("%s: pack from the cache", label);
          return job;
        }
      if (fd >= 0)
        {
          struct stat now;

          g_warning ("%s: dropping a bad pack from the cache (%s)", label, why);
          /* Only the file we checked, not one just put in its place. */
          if (stat (job->final_path, &now) == 0 && now.st_ino == st.st_ino
              && now.st_dev == st.st_dev)
            g_unlink (job->final_path);
          close (fd);
        }
      cache->total -= entry->size;
      g_hash_table_remove (cache->entries, job->key);
    }

  job->gitdir = g_strdup (gitdir);
  job->path = g_strdup_printf ("%s/%s.pack.tmp-%s-%u", cache->dir, job->key, cache->tmp_tag,
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
