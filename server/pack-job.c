/* git-nearby: one pack being made. A job is a small state machine (JobState,
 * moved by job_step() alone): it waits in the cache's line, runs
 * pack-objects writing the pack to a file (or, when the disk will not take
 * it, through memory), and is done; or it loses its last reader and stops.
 * Readers read from the start, whenever they joined. */
#define _GNU_SOURCE /* splice, F_SETPIPE_SZ */
#include "pack-job.h"

#include <errno.h>
#include <fcntl.h>
#include <gio/gunixinputstream.h>
#include <glib-unix.h>
#include <glib/gstdio.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "pack-cache-private.h"

/* A job's life. Readers join it while it is QUEUED or RUNNING (the cache
 * lists it), or once DONE with its pack whole (from the cache). */
typedef enum
{
  JOB_QUEUED,   /* waiting for a slot: no pack-objects yet */
  JOB_RUNNING,  /* pack-objects writes the pack */
  JOB_STOPPING, /* no reader left: pack-objects killed, its output read to the end */
  JOB_DONE,     /* the pack is whole (succeeded) or never will be */
} JobState;

/* What moves it. */
typedef enum
{
  JOB_SLOT_FREE,    /* the cache starts it */
  JOB_OUTPUT_ENDED, /* pack-objects' stdout reached its end (or never was) */
  JOB_EXITED,       /* pack-objects exited (or never started) */
  JOB_ABANDONED,    /* its last reader left before it was DONE */
} JobEvent;

/* Bytes of pack-objects' output kept in memory, when they cannot go to the
 * file, before pack-objects is made to wait for the slowest reader. */
#define MEMORY_MAX (8u << 20)

struct _NearbyPackJob
{
  GObject parent_instance;
  JobState state;
  NearbyPackCache *cache; /* NULL once the cache is gone */
  char *key;
  char *label;
  char *gitdir;
  char *path; /* where the pack is being written, then is (NULL: nowhere) */
  char *final_path;
  GPtrArray *argv;
  GBytes *input;
  GSubprocess *child;
  int fd;            /* the pack's file, read and written (-1: none) */
  guint64 file_size; /* bytes of the pack in the file */
  /* Without a file (it could not be made, or written to the end), the rest
   * of the pack goes through memory: bytes [mem_start, mem_start + mem->len)
   * of it, until every reader is past them. */
  GByteArray *mem;
  guint64 mem_start;
  gboolean stdout_paused;
  int stdout_fd;           /* pack-objects' stdout, non-blocking; the subprocess owns it */
  guint stdout_id;         /* its watch, while it is read */
  guint rest_id;           /* or the pause before the watch is set again */
  gboolean no_splice;      /* the file takes write(2) only */
  guint8 *copy_buffer;     /* for those writes */
  GPtrArray *readers_list; /* NearbyPackReader (unowned) */
  GString *stderr_tail;
  GString *stderr_line; /* the start of a line of stderr not yet ended */
  gboolean stdout_done; /* the two ends that make a started job DONE */
  gboolean child_done;
  gboolean child_ok;
  gboolean succeeded; /* once DONE */
  gboolean cached;
  char *reason; /* for the client: names no path, pid or object */
  guint readers;
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

static void job_step (NearbyPackJob *job, JobEvent event);

guint64
nearby_pack_job_get_size (NearbyPackJob *job)
{
  return job->mem != NULL ? job->mem_start + job->mem->len : job->file_size;
}

gboolean
nearby_pack_job_is_finished (NearbyPackJob *job)
{
  return job->state == JOB_DONE;
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

  g_clear_handle_id (&job->stdout_id, g_source_remove);
  g_clear_handle_id (&job->rest_id, g_source_remove);
  if (job->fd >= 0)
    close (job->fd);
  g_clear_pointer (&job->mem, g_byte_array_unref);
  g_free (job->copy_buffer);
  g_ptr_array_unref (job->readers_list);
  g_clear_object (&job->child);
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
  job->state = JOB_QUEUED;
  job->fd = -1;
  job->stdout_fd = -1;
  job->stderr_tail = g_string_new (NULL);
  job->stderr_line = g_string_new (NULL);
  job->readers_list = g_ptr_array_new ();
}

/* Out of the index of running jobs: new requests get a new job. */
static void
job_unlist (NearbyPackJob *job)
{
  if (job->cache != NULL)
    nearby_pack_cache_unlist (job->cache, job->key, job);
}

/* Into DONE from a run: the pack is whole or never will be. */
static void
job_finish (NearbyPackJob *job)
{
  NearbyPackCache *cache = job->cache;

  job->succeeded = job->child_ok && job->reason == NULL;
  if (!job->succeeded && job->reason == NULL)
    {
      /* Its stderr names paths and objects of the server: for the log. */
      g_warning ("%s: pack-objects failed: %s", job->label,
                 job->stderr_tail->len > 0 ? job->stderr_tail->str : "(no message)");
      job->reason = g_strdup ("the server could not make the pack (its log says why)");
    }

  job_unlist (job);
  /* The cache keeps it if it is whole, on disk and fits. */
  if (cache != NULL
      && nearby_pack_cache_job_done (cache, job->key, job->label,
                                     job->succeeded && job->mem == NULL ? job->fd : -1,
                                     job->file_size, job->path))
    {
      g_free (job->path);
      job->path = g_strdup (job->final_path);
    }
  if (strcmp (job->path, job->final_path) != 0)
    g_unlink (job->path); /* open readers keep reading */

  g_debug ("%s: pack of %" G_GUINT64_FORMAT " bytes %s", job->label, nearby_pack_job_get_size (job),
           job->succeeded ? "done" : "failed");
  g_signal_emit (job, signals[SIGNAL_FINISHED], 0);
  if (cache != NULL)
    nearby_pack_cache_start_next (cache);
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

/* What one wakeup takes from the pipe at most, so that the clients get
 * their share of the main loop while pack-objects outruns them. */
#define STDOUT_BATCH (1u << 20)
/* pack-objects' stdout pipe: room for what it writes while we are busy
 * elsewhere, so that each wakeup moves more than the default 64 KiB. */
#define PIPE_SIZE (1u << 20)
#define READ_BUFFER (256u << 10)

/* A wakeup that found less than this in the pipe waits REST_MS before it
 * looks again: pack-objects writes 8 KiB at a time, and a watch that woke
 * for each write cost the server more than the rest of its share of a
 * first clone. The pipe holds a millisecond or more of its fastest output,
 * and a reader gets the bytes at most that much later. */
#define REST_BELOW (256u << 10)
#define REST_MS 2

/* Whether pack-objects must wait for the slowest reader: memory is full
 * (stopping, no one reads: on to the end whatever it holds). */
static gboolean
memory_full (NearbyPackJob *job)
{
  return job->mem != NULL && job->mem->len >= MEMORY_MAX && job->state != JOB_STOPPING;
}

/* Without splice(2) (EINVAL: a file system such as ecryptfs has none):
 * reads a piece of the pipe and writes it to the file. What the file
 * would not take goes to memory, from where it stopped. Returns what
 * read() returned, errno with it. */
static ssize_t
copy_to_file (NearbyPackJob *job)
{
  ssize_t n, done = 0;

  if (job->copy_buffer == NULL)
    job->copy_buffer = g_malloc (READ_BUFFER);
  n = read (job->stdout_fd, job->copy_buffer, READ_BUFFER);
  while (done < n)
    {
      ssize_t w = pwrite (job->fd, job->copy_buffer + done, n - done, job->file_size);

      if (w < 0 && errno == EINTR)
        continue;
      if (w <= 0)
        {
          job_to_memory (job, w < 0 ? errno : ENOSPC);
          g_byte_array_append (job->mem, job->copy_buffer + done, n - done);
          break;
        }
      job->file_size += w;
      done += w;
    }
  return n;
}

/* Moves what the pipe holds now: into the file by splice(2) (no copy
 * through here), else by copy, else into memory. Returns the bytes moved;
 * sets *@ended at the end of the output (or on an error). */
static gsize
drain_stdout (NearbyPackJob *job, gboolean *ended)
{
  gsize moved = 0;

  *ended = FALSE;
  while (moved < STDOUT_BATCH && !memory_full (job))
    {
      ssize_t n;

      if (job->mem == NULL && !job->no_splice)
        {
          loff_t offset = job->file_size;

          n = splice (job->stdout_fd, NULL, job->fd, &offset, PIPE_SIZE, SPLICE_F_NONBLOCK);
          if (n > 0)
            {
              job->file_size += n;
              moved += n;
              continue;
            }
          if (n < 0 && errno == EINVAL)
            {
              g_debug ("%s: the pack cache's file system cannot splice; copying", job->label);
              job->no_splice = TRUE;
              continue;
            }
          if (n < 0 && errno != EAGAIN && errno != EINTR)
            {
              /* A full or read-only disk (nothing left the pipe): the
               * cache is only an optimisation. */
              job_to_memory (job, errno);
              continue;
            }
        }
      else if (job->mem == NULL)
        {
          n = copy_to_file (job);
          if (n > 0)
            {
              moved += n;
              continue;
            }
        }
      else
        {
          guint len = job->mem->len;

          g_byte_array_set_size (job->mem, len + READ_BUFFER);
          n = read (job->stdout_fd, job->mem->data + len, READ_BUFFER);
          g_byte_array_set_size (job->mem, len + MAX (n, 0));
          if (n > 0)
            {
              moved += n;
              continue;
            }
        }
      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0 && errno == EAGAIN)
        break;
      if (n < 0 && job->reason == NULL)
        {
          g_warning ("%s: reading pack-objects: %s", job->label, g_strerror (errno));
          job->reason = g_strdup ("the server could not read the pack");
        }
      *ended = TRUE;
      break;
    }
  return moved;
}

static gboolean
on_rest_over (gpointer user_data)
{
  NearbyPackJob *job = user_data;

  job->rest_id = 0;
  read_stdout (job);
  return G_SOURCE_REMOVE;
}

static gboolean
on_stdout (int fd, GIOCondition condition, gpointer user_data)
{
  NearbyPackJob *job = user_data;
  gboolean ended;
  gsize moved = drain_stdout (job, &ended);

  /* The signal may stop the job (its last reader left): the watch stays
   * until the end of the output all the same. */
  if (moved > 0)
    g_signal_emit (job, signals[SIGNAL_DATA], 0);
  /* The readers may have taken it all during the signal. */
  if (job->mem != NULL)
    trim_memory (job);
  if (ended)
    {
      job->stdout_id = 0;
      job_step (job, JOB_OUTPUT_ENDED);
      return G_SOURCE_REMOVE;
    }
  if (memory_full (job))
    {
      job->stdout_paused = TRUE; /* trim_memory () goes on */
      job->stdout_id = 0;
      return G_SOURCE_REMOVE;
    }
  if (moved < REST_BELOW)
    {
      job->stdout_id = 0;
      job->rest_id = g_timeout_add (REST_MS, on_rest_over, job);
      return G_SOURCE_REMOVE;
    }
  return G_SOURCE_CONTINUE;
}

/* One watch on the pipe for as long as it is read, not a source per read. */
static void
read_stdout (NearbyPackJob *job)
{
  if (job->stdout_id == 0 && job->rest_id == 0)
    job->stdout_id = g_unix_fd_add (job->stdout_fd, G_IO_IN | G_IO_HUP | G_IO_ERR, on_stdout, job);
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
  job->child_ok = g_subprocess_get_successful (G_SUBPROCESS (source));
  job_step (job, JOB_EXITED);
}

void
nearby_pack_job_add_reader (NearbyPackJob *job, NearbyPackReader *reader)
{
  /* Only the cache hands a job out: one it lists, or one it had whole. */
  g_return_if_fail (job->state != JOB_STOPPING && (job->state != JOB_DONE || job->succeeded));
  reader->offset = 0;
  g_ptr_array_add (job->readers_list, reader);
  job->readers++;
}

void
nearby_pack_job_remove_reader (NearbyPackJob *job, NearbyPackReader *reader)
{
  g_return_if_fail (job->readers > 0);
  g_ptr_array_remove_fast (job->readers_list, reader);
  if (--job->readers > 0 || job->state == JOB_DONE)
    {
      trim_memory (job);
      return;
    }
  job_step (job, JOB_ABANDONED);
}

/* No reader left: no one may join it any more (they would get its
 * failure). */
static void
job_abandon (NearbyPackJob *job)
{
  job_unlist (job);
  if (job->reason == NULL)
    job->reason = g_strdup ("nobody is waiting for the pack any more");
}

/* Into STOPPING. */
static void
job_stop (NearbyPackJob *job)
{
  job_abandon (job);
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

/* Into DONE from QUEUED: never started, out of the line, and done with. */
static void
job_drop (NearbyPackJob *job)
{
  job_abandon (job);
  if (job->cache != NULL)
    nearby_pack_cache_dequeue (job->cache, job); /* the producer's reference */
}

/* Into RUNNING: pack-objects starts. */
static void
job_spawn (NearbyPackJob *job)
{
  g_autoptr (GSubprocessLauncher) launcher
      = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDIN_PIPE | G_SUBPROCESS_FLAGS_STDOUT_PIPE
                                   | G_SUBPROCESS_FLAGS_STDERR_PIPE);
  const char *unset[] = { "GIT_WORK_TREE",        "GIT_NAMESPACE",
                          "GIT_OBJECT_DIRECTORY", "GIT_ALTERNATE_OBJECT_DIRECTORIES",
                          "GIT_INDEX_FILE",       "GIT_COMMON_DIR",
                          "GIT_SHALLOW_FILE",     "GIT_REPLACE_REF_BASE" };
  g_autoptr (GError) error = NULL;

  /* Read and written: readers pread the writer's descriptor, so a file
   * unlinked under it (by a second server, or by hand) harms no one. */
  job->fd = open (job->path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (job->fd < 0 && errno == ENOENT)
    {
      /* Someone cleaned the cache directory away: make it again, and forget
       * the packs that went with it. */
      nearby_pack_cache_make_dir (job->cache);
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
      job_step (job, JOB_EXITED);
      job_step (job, JOB_OUTPUT_ENDED);
      return;
    }
  g_debug ("%s: pack-objects started (%u running)", job->label,
           nearby_pack_cache_n_running (job->cache));
  g_output_stream_write_all_async (g_subprocess_get_stdin_pipe (job->child),
                                   g_bytes_get_data (job->input, NULL),
                                   g_bytes_get_size (job->input), G_PRIORITY_DEFAULT, NULL,
                                   on_stdin_written, g_object_ref (job));
  g_input_stream_read_bytes_async (g_subprocess_get_stderr_pipe (job->child), 4096,
                                   G_PRIORITY_DEFAULT, NULL, on_stderr, g_object_ref (job));
  g_subprocess_wait_async (job->child, NULL, on_exited, job);
  job->stdout_fd = g_unix_input_stream_get_fd (
      G_UNIX_INPUT_STREAM (g_subprocess_get_stdout_pipe (job->child)));
  g_unix_set_fd_nonblocking (job->stdout_fd, TRUE, NULL);
  if (fcntl (job->stdout_fd, F_SETPIPE_SZ, PIPE_SIZE) < 0)
    g_debug ("%s: the pipe from pack-objects stays at its size: %s", job->label,
             g_strerror (errno));
  read_stdout (job);
}

/* The one transition function: where @event takes the job from its state
 * now, and what entering the new state does. A started job is DONE once
 * both its output ended and pack-objects exited, in either order. */
static void
job_step (NearbyPackJob *job, JobEvent event)
{
  JobState from = job->state, to = from;

  switch (event)
    {
    case JOB_SLOT_FREE:
      if (from == JOB_QUEUED)
        to = JOB_RUNNING;
      break;
    case JOB_OUTPUT_ENDED:
      job->stdout_done = TRUE;
      break;
    case JOB_EXITED:
      job->child_done = TRUE;
      break;
    case JOB_ABANDONED:
      if (from == JOB_QUEUED)
        to = JOB_DONE;
      else if (from == JOB_RUNNING)
        to = JOB_STOPPING;
      break;
    }
  if ((to == JOB_RUNNING || to == JOB_STOPPING) && job->stdout_done && job->child_done)
    to = JOB_DONE;
  if (to == from)
    return;
  job->state = to;
  switch (to)
    {
    case JOB_RUNNING:
      job_spawn (job);
      break;
    case JOB_STOPPING:
      job_stop (job);
      break;
    case JOB_DONE:
      if (from == JOB_QUEUED)
        job_drop (job);
      else
        job_finish (job);
      break;
    case JOB_QUEUED:
      g_assert_not_reached ();
    }
}

NearbyPackJob *
nearby_pack_job_new_cached (const char *label, int fd, const char *path, guint64 size)
{
  NearbyPackJob *job = g_object_new (NEARBY_TYPE_PACK_JOB, NULL);

  job->state = JOB_DONE;
  job->label = g_strdup (label);
  job->fd = fd;
  job->path = g_strdup (path);
  job->final_path = g_strdup (path);
  job->file_size = size;
  job->succeeded = job->cached = TRUE;
  return job;
}

NearbyPackJob *
nearby_pack_job_new (NearbyPackCache *cache, const char *key, const char *label, const char *gitdir,
                     const char *path, const char *final_path, GPtrArray *argv, GBytes *input)
{
  NearbyPackJob *job = g_object_new (NEARBY_TYPE_PACK_JOB, NULL);

  job->cache = cache;
  job->key = g_strdup (key);
  job->label = g_strdup (label);
  job->gitdir = g_strdup (gitdir);
  job->path = g_strdup (path);
  job->final_path = g_strdup (final_path);
  job->argv = g_ptr_array_ref (argv);
  job->input = g_bytes_ref (input);
  return job;
}

void
nearby_pack_job_start (NearbyPackJob *job)
{
  job_step (job, JOB_SLOT_FREE);
}

void
nearby_pack_job_forget_cache (NearbyPackJob *job)
{
  job->cache = NULL;
}
