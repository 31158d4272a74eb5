#include "pack-stream.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "pkt-line.h"

#define KEEPALIVE_DEFAULT_MS 5000 /* as git upload-pack's uploadpack.keepAlive */
#define MAX_CHUNKS_IN_FLIGHT 4    /* blocks of 1 MiB: 4 MiB queued for a slow client */

typedef struct
{
  SoupServerMessage *msg; /* NULL once it is finished (sent or hung up) */
  NearbyPackPlan *plan;
  NearbyPackJob *job;
  char *label;
  NearbyPackReader reader;
  guint chunks_in_flight;
  gboolean completed;
  gint64 last_write;
  gint64 keepalive_us;
  guint keepalive_id;
  gulong finished_id;
  gulong wrote_chunk_id;
  gulong data_id;
  gulong progress_id;
  gulong job_finished_id;
} PackStream;

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
  if (stream->job != NULL)
    {
      nearby_pack_job_remove_reader (stream->job, &stream->reader);
      g_clear_signal_handler (&stream->data_id, stream->job);
      g_clear_signal_handler (&stream->progress_id, stream->job);
      g_clear_signal_handler (&stream->job_finished_id, stream->job);
      g_clear_object (&stream->job);
    }
  nearby_pack_plan_free (stream->plan);
  g_free (stream->label);
  g_free (stream);
}

static void
append (PackStream *stream, GByteArray *data)
{
  g_autoptr (GBytes) bytes = NULL;

  if (stream->msg == NULL || stream->completed || data->len == 0)
    return;
  bytes = g_byte_array_free_to_bytes (g_byte_array_ref (data));
  soup_message_body_append_bytes (soup_server_message_get_response_body (stream->msg), bytes);
  stream->chunks_in_flight++;
  stream->last_write = g_get_monotonic_time ();
  soup_server_message_unpause (stream->msg);
}

/* Progress (band 2) and errors (band 3) exist only with a sideband. */
static void
send_band (PackStream *stream, guint8 band, const void *data, gsize len)
{
  g_autoptr (GByteArray) out = g_byte_array_new ();

  if (stream->plan->sideband_max == 0)
    return;
  nearby_pkt_sideband (out, band, data, len, stream->plan->sideband_max);
  append (stream, out);
}

/* Ends the response: a flush after a whole pack, or @error on band 3. */
static void
finish (PackStream *stream, const char *error)
{
  g_autoptr (GByteArray) out = g_byte_array_new ();

  if (stream->completed)
    return;
  g_clear_handle_id (&stream->keepalive_id, g_source_remove);
  if (stream->msg != NULL)
    {
      if (error != NULL)
        {
          g_autofree char *why = g_strdup_printf ("git-nearby: %s\n", error);

          send_band (stream, 3, why, strlen (why));
        }
      else
        {
          if (stream->plan->sideband_max > 0)
            nearby_pkt_flush (out);
          append (stream, out);
          g_debug ("%s: sent a pack of %" G_GUINT64_FORMAT " bytes%s", stream->label,
                   stream->reader.offset,
                   nearby_pack_job_was_cached (stream->job) ? " from the cache" : "");
        }
      soup_message_body_complete (soup_server_message_get_response_body (stream->msg));
      soup_server_message_unpause (stream->msg);
    }
  stream->completed = TRUE;
}

#define PACKETS_PER_BLOCK 16

/* Reads up to @len bytes of the pack into @dest; 0 when there is no more
 * yet, -1 on an error. */
static gssize
read_pack (PackStream *stream, guint8 *dest, gsize len, GError **error)
{
  gsize total = 0;

  /* The job may hand out less than asked (the end of the file, then
   * memory). */
  while (total < len)
    {
      gssize n
          = nearby_pack_job_read (stream->job, &stream->reader, dest + total, len - total, error);

      if (n < 0)
        return -1;
      if (n == 0)
        break;
      total += n;
    }
  return total;
}

/* One block for the client: up to PACKETS_PER_BLOCK sideband packets (or
 * as many raw bytes), read straight into place. */
static gssize
read_block (PackStream *stream, GByteArray *out, GError **error)
{
  gsize max = stream->plan->sideband_max;
  guint64 left = nearby_pack_job_get_size (stream->job) - stream->reader.offset;
  gsize total = 0;

  if (max == 0)
    {
      gsize want = MIN (left, (guint64) PACKETS_PER_BLOCK * NEARBY_SIDEBAND_DATA_MAX);
      gssize n;

      g_byte_array_set_size (out, want);
      n = read_pack (stream, out->data, want, error);
      if (n <= 0)
        return n;
      g_byte_array_set_size (out, n);
      return n;
    }
  for (int i = 0; i < PACKETS_PER_BLOCK && left > 0; i++)
    {
      gsize want = MIN (left, (guint64) max);
      gsize at = out->len;
      char header[6];
      gssize n;

      g_byte_array_set_size (out, at + 5 + want);
      n = read_pack (stream, out->data + at + 5, want, error);
      if (n <= 0)
        {
          g_byte_array_set_size (out, at);
          return n < 0 ? n : (gssize) total;
        }
      g_snprintf (header, sizeof header, "%04x", (unsigned) (n + 5));
      memcpy (out->data + at, header, 4);
      out->data[at + 4] = 1;
      g_byte_array_set_size (out, at + 5 + n);
      left -= n;
      total += n;
    }
  return total;
}

/* Sends what the job has made and the client has room for. */
static void
pump (PackStream *stream)
{
  if (stream->msg == NULL || stream->completed)
    return;
  while (stream->chunks_in_flight < MAX_CHUNKS_IN_FLIGHT
         && stream->reader.offset < nearby_pack_job_get_size (stream->job))
    {
      g_autoptr (GByteArray) block = g_byte_array_sized_new (PACKETS_PER_BLOCK * NEARBY_PKT_MAX);
      g_autoptr (GError) error = NULL;
      gssize n = read_block (stream, block, &error);

      if (n < 0)
        {
          /* The job logged the details. */
          finish (stream, error->message);
          return;
        }
      if (n == 0)
        break;
      append (stream, block);
    }
  if (nearby_pack_job_is_finished (stream->job))
    {
      const char *reason = NULL;

      if (!nearby_pack_job_succeeded (stream->job, &reason))
        {
          g_autofree char *why = g_strdup_printf ("pack-objects failed: %s", reason);

          finish (stream, why);
        }
      else if (stream->reader.offset == nearby_pack_job_get_size (stream->job))
        finish (stream, NULL);
    }
}

static void
on_job_data (NearbyPackJob *job, gpointer user_data)
{
  pump (user_data);
}

static void
on_job_progress (NearbyPackJob *job, gpointer data, guint len, gpointer user_data)
{
  PackStream *stream = user_data;

  if (stream->plan->progress)
    send_band (stream, 2, data, len);
}

static void
on_msg_finished (SoupServerMessage *msg, gpointer user_data)
{
  PackStream *stream = user_data;

  if (!stream->completed)
    g_message ("%s: the client hung up%s", stream->label,
               nearby_pack_job_is_finished (stream->job) ? ""
                                                         : "; the pack is still made for others");
  pack_stream_free (stream);
}

static void
on_wrote_chunk (SoupServerMessage *msg, gpointer user_data)
{
  PackStream *stream = user_data;

  if (stream->chunks_in_flight > 0)
    stream->chunks_in_flight--;
  if (stream->chunks_in_flight <= MAX_CHUNKS_IN_FLIGHT / 2)
    pump (stream);
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

void
nearby_pack_stream_start (SoupServerMessage *msg, NearbyPackPlan *plan, NearbyPackCache *cache,
                          const char *gitdir, const char *label)
{
  PackStream *stream = g_new0 (PackStream, 1);

  stream->msg = g_object_ref (msg);
  stream->plan = plan;
  stream->label = g_strdup (label);
  stream->last_write = g_get_monotonic_time ();

  soup_message_headers_set_encoding (soup_server_message_get_response_headers (msg),
                                     SOUP_ENCODING_CHUNKED);
  soup_message_body_set_accumulate (soup_server_message_get_response_body (msg), FALSE);
  soup_server_message_pause (msg);
  stream->finished_id = g_signal_connect (msg, "finished", G_CALLBACK (on_msg_finished), stream);
  stream->wrote_chunk_id
      = g_signal_connect (msg, "wrote-chunk", G_CALLBACK (on_wrote_chunk), stream);
  append (stream, plan->preamble);

  g_debug ("%s: pack for %s", label, plan->summary);
  stream->job = nearby_pack_cache_get (cache, plan, gitdir, label);
  nearby_pack_job_add_reader (stream->job, &stream->reader);
  stream->data_id = g_signal_connect (stream->job, "data", G_CALLBACK (on_job_data), stream);
  stream->progress_id
      = g_signal_connect (stream->job, "progress", G_CALLBACK (on_job_progress), stream);
  stream->job_finished_id
      = g_signal_connect (stream->job, "finished", G_CALLBACK (on_job_data), stream);
  if (plan->sideband_max > 0)
    {
      guint ms = keepalive_ms ();

      stream->keepalive_us = (gint64) ms * 1000;
      stream->keepalive_id = g_timeout_add (MAX (ms / 2, 5), on_keepalive, stream);
    }
  pump (stream);
}
