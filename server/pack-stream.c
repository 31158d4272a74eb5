#include "pack-stream.h"

#include <string.h>

#include "nearby-error.h"
#include "pkt-line.h"

#define KEEPALIVE_DEFAULT_MS 5000 /* as git upload-pack's uploadpack.keepAlive */
#define MAX_CHUNKS_IN_FLIGHT 64   /* about 4 MiB queued for a slow client */

typedef struct
{
  SoupServerMessage *msg; /* NULL once it is finished (sent or hung up) */
  NearbyPackPlan *plan;
  char *label;
  GSubprocess *child;
  GCancellable *cancellable;
  GString *stderr_tail;
  guint pending_ops;
  guint chunks_in_flight;
  gboolean read_waiting; /* stdout reading is held back by a slow client */
  gboolean stdout_done;
  gboolean child_done;
  gboolean child_ok;
  gboolean completed;
  gint64 last_write;
  gint64 keepalive_us;
  guint64 pack_bytes;
  guint keepalive_id;
  gulong finished_id;
  gulong wrote_chunk_id;
} PackStream;

static void read_stdout (PackStream *stream);

static void
pack_stream_free (PackStream *stream)
{
  g_clear_handle_id (&stream->keepalive_id, g_source_remove);
  if (stream->msg != NULL)
    {
      g_clear_signal_handler (&stream->finished_id, stream->msg);
      g_clear_signal_handler (&stream->wrote_chunk_id, stream->msg);
      g_clear_object (&stream->msg);
    }
  g_clear_object (&stream->child);
  g_clear_object (&stream->cancellable);
  g_string_free (stream->stderr_tail, TRUE);
  nearby_pack_plan_free (stream->plan);
  g_free (stream->label);
  g_free (stream);
}

static void
maybe_free (PackStream *stream)
{
  if (stream->pending_ops == 0 && (stream->msg == NULL || stream->completed))
    pack_stream_free (stream);
}

static void
append (PackStream *stream, GByteArray *data)
{
  GBytes *bytes;

  if (stream->msg == NULL || stream->completed || data->len == 0)
    return;
  bytes = g_byte_array_free_to_bytes (g_byte_array_ref (data));
  soup_message_body_append_bytes (soup_server_message_get_response_body (stream->msg), bytes);
  g_bytes_unref (bytes);
  stream->chunks_in_flight++;
  stream->last_write = g_get_monotonic_time ();
  soup_server_message_unpause (stream->msg);
}

static void
send_band (PackStream *stream, guint8 band, const void *data, gsize len)
{
  g_autoptr (GByteArray) out = g_byte_array_new ();

  if (stream->plan->sideband_max == 0)
    {
      if (band == 1)
        g_byte_array_append (out, data, len);
    }
  else
    nearby_pkt_sideband (out, band, data, len, stream->plan->sideband_max);
  append (stream, out);
}

/* Once git has exited and its output is drained: close the pack. */
static void
maybe_complete (PackStream *stream)
{
  g_autoptr (GByteArray) out = g_byte_array_new ();

  if (!stream->stdout_done || !stream->child_done || stream->completed)
    return;

  if (stream->msg != NULL)
    {
      if (!stream->child_ok)
        {
          g_autofree char *why = g_strdup_printf (
              "git-nearby: pack-objects failed: %s\n",
              stream->stderr_tail->len > 0 ? stream->stderr_tail->str : "no reason given");
          g_warning ("%s: pack-objects failed: %s", stream->label,
                     stream->stderr_tail->len > 0 ? stream->stderr_tail->str : "no reason given");
          if (stream->plan->sideband_max > 0)
            send_band (stream, 3, why, strlen (why));
        }
      else
        g_debug ("%s: sent a pack of %" G_GUINT64_FORMAT " bytes", stream->label,
                 stream->pack_bytes);
      if (stream->plan->sideband_max > 0 && stream->child_ok)
        {
          nearby_pkt_flush (out);
          append (stream, out);
        }
      soup_message_body_complete (soup_server_message_get_response_body (stream->msg));
      soup_server_message_unpause (stream->msg);
    }
  stream->completed = TRUE;
  g_clear_handle_id (&stream->keepalive_id, g_source_remove);
}

static void
on_stdout_read (GObject *source, GAsyncResult *result, gpointer user_data)
{
  PackStream *stream = user_data;
  g_autoptr (GError) error = NULL;
  g_autoptr (GBytes) bytes
      = g_input_stream_read_bytes_finish (G_INPUT_STREAM (source), result, &error);

  stream->pending_ops--;
  if (bytes == NULL || g_bytes_get_size (bytes) == 0)
    {
      if (error != NULL && !g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        g_warning ("%s: reading pack-objects: %s", stream->label, error->message);
      stream->stdout_done = TRUE;
      maybe_complete (stream);
      maybe_free (stream);
      return;
    }
  stream->pack_bytes += g_bytes_get_size (bytes);
  send_band (stream, 1, g_bytes_get_data (bytes, NULL), g_bytes_get_size (bytes));

  if (stream->chunks_in_flight > MAX_CHUNKS_IN_FLIGHT && stream->msg != NULL)
    stream->read_waiting = TRUE; /* on_wrote_chunk resumes */
  else
    read_stdout (stream);
  maybe_free (stream);
}

static void
read_stdout (PackStream *stream)
{
  gsize size = stream->plan->sideband_max > 0 ? stream->plan->sideband_max : 65536;

  stream->pending_ops++;
  g_input_stream_read_bytes_async (g_subprocess_get_stdout_pipe (stream->child), size,
                                   G_PRIORITY_DEFAULT, stream->cancellable, on_stdout_read, stream);
}

static void
on_stderr_read (GObject *source, GAsyncResult *result, gpointer user_data)
{
  PackStream *stream = user_data;
  g_autoptr (GBytes) bytes
      = g_input_stream_read_bytes_finish (G_INPUT_STREAM (source), result, NULL);
  gsize len;
  const char *data;

  stream->pending_ops--;
  if (bytes == NULL || (len = g_bytes_get_size (bytes)) == 0)
    {
      maybe_free (stream);
      return;
    }
  data = g_bytes_get_data (bytes, NULL);
  if (stream->plan->progress)
    send_band (stream, 2, data, len);

  /* Keep the last line, for the log and band 3 if git fails. */
  g_string_append_len (stream->stderr_tail, data, len);
  if (stream->stderr_tail->len > 1024)
    g_string_erase (stream->stderr_tail, 0, stream->stderr_tail->len - 1024);
  while (stream->stderr_tail->len > 0
         && strchr ("\r\n", stream->stderr_tail->str[stream->stderr_tail->len - 1]))
    g_string_truncate (stream->stderr_tail, stream->stderr_tail->len - 1);
  {
    const char *last = strrchr (stream->stderr_tail->str, '\n');
    const char *cr = strrchr (stream->stderr_tail->str, '\r');

    if (cr != NULL && (last == NULL || cr > last))
      last = cr;
    if (last != NULL)
      g_string_erase (stream->stderr_tail, 0, last + 1 - stream->stderr_tail->str);
  }

  stream->pending_ops++;
  g_input_stream_read_bytes_async (G_INPUT_STREAM (source), 4096, G_PRIORITY_DEFAULT,
                                   stream->cancellable, on_stderr_read, stream);
}

static void
on_stdin_written (GObject *source, GAsyncResult *result, gpointer user_data)
{
  PackStream *stream = user_data;
  g_autoptr (GError) error = NULL;

  stream->pending_ops--;
  if (!g_output_stream_write_all_finish (G_OUTPUT_STREAM (source), result, NULL, &error)
      && !g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    g_debug ("%s: writing to pack-objects: %s", stream->label, error->message);
  g_output_stream_close (G_OUTPUT_STREAM (source), NULL, NULL);
  maybe_free (stream);
}

static void
on_child_exited (GObject *source, GAsyncResult *result, gpointer user_data)
{
  PackStream *stream = user_data;

  stream->pending_ops--;
  /* Not cancellable: the child is always reaped. */
  g_subprocess_wait_finish (G_SUBPROCESS (source), result, NULL);
  stream->child_done = TRUE;
  stream->child_ok = g_subprocess_get_successful (G_SUBPROCESS (source));
  maybe_complete (stream);
  maybe_free (stream);
}

static void
on_msg_finished (SoupServerMessage *msg, gpointer user_data)
{
  PackStream *stream = user_data;

  if (!stream->completed)
    {
      g_message ("%s: the client hung up; stopping pack-objects", stream->label);
      g_cancellable_cancel (stream->cancellable);
      if (stream->child != NULL && !stream->child_done)
        g_subprocess_force_exit (stream->child);
    }
  g_clear_signal_handler (&stream->finished_id, stream->msg);
  g_clear_signal_handler (&stream->wrote_chunk_id, stream->msg);
  g_clear_object (&stream->msg);
  g_clear_handle_id (&stream->keepalive_id, g_source_remove);
  maybe_free (stream);
}

static void
on_wrote_chunk (SoupServerMessage *msg, gpointer user_data)
{
  PackStream *stream = user_data;

  if (stream->chunks_in_flight > 0)
    stream->chunks_in_flight--;
  if (stream->read_waiting && stream->chunks_in_flight <= MAX_CHUNKS_IN_FLIGHT / 2)
    {
      stream->read_waiting = FALSE;
      read_stdout (stream);
    }
}

static gboolean
on_keepalive (gpointer user_data)
{
  PackStream *stream = user_data;
  static const guint8 keepalive[] = { '0', '0', '0', '5', 1 };

  if (stream->msg != NULL && !stream->completed
      && g_get_monotonic_time () - stream->last_write >= stream->keepalive_us)
    {
      g_autoptr (GByteArray) out = g_byte_array_new ();

      g_byte_array_append (out, keepalive, sizeof keepalive);
      append (stream, out);
    }
  return G_SOURCE_CONTINUE;
}

/* GIT_NEARBY_KEEPALIVE_MS tunes the interval (the tests shorten it). */
static guint
keepalive_ms (void)
{
  const char *env = g_getenv ("GIT_NEARBY_KEEPALIVE_MS");
  guint64 ms = env != NULL ? g_ascii_strtoull (env, NULL, 10) : 0;

  return ms >= 10 && ms <= 600000 ? (guint) ms : KEEPALIVE_DEFAULT_MS;
}

static GSubprocess *
spawn_pack_objects (NearbyPackPlan *plan, const char *gitdir, GError **error)
{
  g_autoptr (GSubprocessLauncher) launcher
      = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDIN_PIPE | G_SUBPROCESS_FLAGS_STDOUT_PIPE
                                   | G_SUBPROCESS_FLAGS_STDERR_PIPE);
  const char *unset[] = { "GIT_WORK_TREE",         "GIT_NAMESPACE",
                          "GIT_OBJECT_DIRECTORY",  "GIT_ALTERNATE_OBJECT_DIRECTORIES",
                          "GIT_INDEX_FILE",        "GIT_COMMON_DIR",
                          "GIT_SHALLOW_FILE",      "GIT_REPLACE_REF_BASE",
                          "GIT_NO_REPLACE_OBJECTS" };

  for (gsize i = 0; i < G_N_ELEMENTS (unset); i++)
    g_subprocess_launcher_unsetenv (launcher, unset[i]);
  g_subprocess_launcher_setenv (launcher, "GIT_DIR", gitdir, TRUE);
  /* Replace refs could make the pack differ from the history we checked. */
  g_subprocess_launcher_setenv (launcher, "GIT_NO_REPLACE_OBJECTS", "1", TRUE);
  g_subprocess_launcher_set_cwd (launcher, gitdir);
  return g_subprocess_launcher_spawnv (launcher, (const char *const *) plan->argv->pdata, error);
}

void
nearby_pack_stream_start (SoupServerMessage *msg, NearbyPackPlan *plan, const char *gitdir,
                          const char *label)
{
  PackStream *stream = g_new0 (PackStream, 1);
  g_autoptr (GError) error = NULL;

  stream->msg = g_object_ref (msg);
  stream->plan = plan;
  stream->label = g_strdup (label);
  stream->cancellable = g_cancellable_new ();
  stream->stderr_tail = g_string_new (NULL);
  stream->last_write = g_get_monotonic_time ();

  soup_message_headers_set_encoding (soup_server_message_get_response_headers (msg),
                                     SOUP_ENCODING_CHUNKED);
  soup_message_body_set_accumulate (soup_server_message_get_response_body (msg), FALSE);
  soup_server_message_pause (msg);
  stream->finished_id = g_signal_connect (msg, "finished", G_CALLBACK (on_msg_finished), stream);
  stream->wrote_chunk_id
      = g_signal_connect (msg, "wrote-chunk", G_CALLBACK (on_wrote_chunk), stream);

  append (stream, plan->preamble);

  stream->child = spawn_pack_objects (plan, gitdir, &error);
  if (stream->child == NULL)
    {
      g_string_assign (stream->stderr_tail, error->message);
      stream->stdout_done = stream->child_done = TRUE;
      stream->child_ok = FALSE;
      maybe_complete (stream);
      maybe_free (stream);
      return;
    }

  g_debug ("%s: running pack-objects for %s", label, plan->summary);
  stream->pending_ops += 3;
  g_output_stream_write_all_async (g_subprocess_get_stdin_pipe (stream->child), plan->input->str,
                                   plan->input->len, G_PRIORITY_DEFAULT, stream->cancellable,
                                   on_stdin_written, stream);
  g_input_stream_read_bytes_async (g_subprocess_get_stderr_pipe (stream->child), 4096,
                                   G_PRIORITY_DEFAULT, stream->cancellable, on_stderr_read, stream);
  g_subprocess_wait_async (stream->child, NULL, on_child_exited, stream);
  read_stdout (stream);
  if (plan->sideband_max > 0)
    {
      guint ms = keepalive_ms ();

      stream->keepalive_us = (gint64) ms * 1000;
      stream->keepalive_id = g_timeout_add (MAX (ms / 2, 5), on_keepalive, stream);
    }
}
