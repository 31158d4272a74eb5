#include "config.h"

#include "read-ahead.h"

#include <string.h>

#define NEARBY_TYPE_READ_AHEAD_INPUT (nearby_read_ahead_input_get_type ())
G_DECLARE_FINAL_TYPE (NearbyReadAheadInput, nearby_read_ahead_input, NEARBY, READ_AHEAD_INPUT,
                      GInputStream)

/* What was read ahead, then @input's. Closing it closes nothing: the
 * stream it is the input of closes the connection. */
struct _NearbyReadAheadInput
{
  GInputStream parent_instance;
  GInputStream *input;
  GBytes *ahead;
  gsize offset; /* of what @ahead has left */
};

static void nearby_read_ahead_input_pollable_init (GPollableInputStreamInterface *iface);

G_DEFINE_TYPE_WITH_CODE (NearbyReadAheadInput, nearby_read_ahead_input, G_TYPE_INPUT_STREAM,
                         G_IMPLEMENT_INTERFACE (G_TYPE_POLLABLE_INPUT_STREAM,
                                                nearby_read_ahead_input_pollable_init))

static gsize
ahead_left (NearbyReadAheadInput *self)
{
  return self->ahead != NULL ? g_bytes_get_size (self->ahead) - self->offset : 0;
}

static gssize
take_ahead (NearbyReadAheadInput *self, void *buffer, gsize count)
{
  gsize n = MIN (count, ahead_left (self));

  memcpy (buffer, (const guint8 *) g_bytes_get_data (self->ahead, NULL) + self->offset, n);
  self->offset += n;
  if (ahead_left (self) == 0)
    g_clear_pointer (&self->ahead, g_bytes_unref);
  return (gssize) n;
}

static gssize
read_fn (GInputStream *stream, void *buffer, gsize count, GCancellable *cancellable, GError **error)
{
  NearbyReadAheadInput *self = NEARBY_READ_AHEAD_INPUT (stream);

  if (ahead_left (self) > 0)
    return take_ahead (self, buffer, count);
  return g_input_stream_read (self->input, buffer, count, cancellable, error);
}

static gboolean
can_poll (GPollableInputStream *stream)
{
  return g_pollable_input_stream_can_poll (
      G_POLLABLE_INPUT_STREAM (NEARBY_READ_AHEAD_INPUT (stream)->input));
}

static gboolean
is_readable (GPollableInputStream *stream)
{
  NearbyReadAheadInput *self = NEARBY_READ_AHEAD_INPUT (stream);

  return ahead_left (self) > 0
         || g_pollable_input_stream_is_readable (G_POLLABLE_INPUT_STREAM (self->input));
}

static GSource *
create_source (GPollableInputStream *stream, GCancellable *cancellable)
{
  NearbyReadAheadInput *self = NEARBY_READ_AHEAD_INPUT (stream);
  g_autoptr (GSource) base_source = NULL;

  /* What is read ahead is there at once; a source for it fires at once. */
  if (ahead_left (self) > 0)
    base_source = g_timeout_source_new (0);
  else
    base_source
        = g_pollable_input_stream_create_source (G_POLLABLE_INPUT_STREAM (self->input), NULL);
  return g_pollable_source_new_full (stream, base_source, cancellable);
}

static gssize
read_nonblocking (GPollableInputStream *stream, void *buffer, gsize count, GError **error)
{
  NearbyReadAheadInput *self = NEARBY_READ_AHEAD_INPUT (stream);

  if (ahead_left (self) > 0)
    return take_ahead (self, buffer, count);
  return g_pollable_input_stream_read_nonblocking (G_POLLABLE_INPUT_STREAM (self->input), buffer,
                                                   count, NULL, error);
}

static void
nearby_read_ahead_input_pollable_init (GPollableInputStreamInterface *iface)
{
  iface->can_poll = can_poll;
  iface->is_readable = is_readable;
  iface->create_source = create_source;
  iface->read_nonblocking = read_nonblocking;
}

static void
nearby_read_ahead_input_finalize (GObject *object)
{
  NearbyReadAheadInput *self = NEARBY_READ_AHEAD_INPUT (object);

  g_clear_pointer (&self->ahead, g_bytes_unref);
  g_clear_object (&self->input);
  G_OBJECT_CLASS (nearby_read_ahead_input_parent_class)->finalize (object);
}

static void
nearby_read_ahead_input_class_init (NearbyReadAheadInputClass *klass)
{
  GInputStreamClass *input_class = G_INPUT_STREAM_CLASS (klass);

  G_OBJECT_CLASS (klass)->finalize = nearby_read_ahead_input_finalize;
  input_class->read_fn = read_fn;
}

static void
nearby_read_ahead_input_init (NearbyReadAheadInput *self)
{
}

/* The connection's stream, with the input above. As libsoup's own
 * SoupIOStream, it closes the connection when closed, and not when only
 * let go of (libsoup steals it after each kept-alive answer). */
#define NEARBY_TYPE_READ_AHEAD_STREAM (nearby_read_ahead_stream_get_type ())
G_DECLARE_FINAL_TYPE (NearbyReadAheadStream, nearby_read_ahead_stream, NEARBY, READ_AHEAD_STREAM,
                      GIOStream)

struct _NearbyReadAheadStream
{
  GIOStream parent_instance;
  GIOStream *base;
  GInputStream *input; /* a NearbyReadAheadInput */
  gboolean disposing;
};

G_DEFINE_TYPE (NearbyReadAheadStream, nearby_read_ahead_stream, G_TYPE_IO_STREAM)

static GInputStream *
get_input_stream (GIOStream *stream)
{
  return NEARBY_READ_AHEAD_STREAM (stream)->input;
}

static GOutputStream *
get_output_stream (GIOStream *stream)
{
  return g_io_stream_get_output_stream (NEARBY_READ_AHEAD_STREAM (stream)->base);
}

static gboolean
stream_close_fn (GIOStream *stream, GCancellable *cancellable, GError **error)
{
  NearbyReadAheadStream *self = NEARBY_READ_AHEAD_STREAM (stream);

  if (self->disposing)
    return TRUE;
  return g_io_stream_close (self->base, cancellable, error);
}

static void
nearby_read_ahead_stream_dispose (GObject *object)
{
  NEARBY_READ_AHEAD_STREAM (object)->disposing = TRUE;
  G_OBJECT_CLASS (nearby_read_ahead_stream_parent_class)->dispose (object);
}

static void
nearby_read_ahead_stream_finalize (GObject *object)
{
  NearbyReadAheadStream *self = NEARBY_READ_AHEAD_STREAM (object);

  g_clear_object (&self->input);
  g_clear_object (&self->base);
  G_OBJECT_CLASS (nearby_read_ahead_stream_parent_class)->finalize (object);
}

static void
nearby_read_ahead_stream_class_init (NearbyReadAheadStreamClass *klass)
{
  GIOStreamClass *stream_class = G_IO_STREAM_CLASS (klass);

  G_OBJECT_CLASS (klass)->dispose = nearby_read_ahead_stream_dispose;
  G_OBJECT_CLASS (klass)->finalize = nearby_read_ahead_stream_finalize;
  stream_class->get_input_stream = get_input_stream;
  stream_class->get_output_stream = get_output_stream;
  stream_class->close_fn = stream_close_fn;
}

static void
nearby_read_ahead_stream_init (NearbyReadAheadStream *self)
{
}

GIOStream *
nearby_read_ahead_stream_new (GIOStream *base, GBytes *ahead)
{
  GInputStream *base_input = g_io_stream_get_input_stream (base);
  NearbyReadAheadInput *input;
  NearbyReadAheadStream *self;

  g_return_val_if_fail (G_IS_POLLABLE_INPUT_STREAM (base_input), NULL);
  input = g_object_new (NEARBY_TYPE_READ_AHEAD_INPUT, NULL);
  input->input = g_object_ref (base_input);
  input->ahead = g_bytes_get_size (ahead) > 0 ? g_bytes_ref (ahead) : NULL;
  self = g_object_new (NEARBY_TYPE_READ_AHEAD_STREAM, NULL);
  self->base = g_object_ref (base);
  self->input = G_INPUT_STREAM (input);
  return G_IO_STREAM (self);
}

GBytes *
nearby_read_ahead_stream_take_rest (GIOStream *stream)
{
  NearbyReadAheadInput *input;
  GBytes *rest;

  g_return_val_if_fail (NEARBY_IS_READ_AHEAD_STREAM (stream), NULL);
  input = NEARBY_READ_AHEAD_INPUT (NEARBY_READ_AHEAD_STREAM (stream)->input);
  if (ahead_left (input) == 0)
    return NULL;
  rest = g_bytes_new_from_bytes (input->ahead, input->offset, ahead_left (input));
  g_clear_pointer (&input->ahead, g_bytes_unref);
  return rest;
}
