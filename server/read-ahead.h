/* git-nearby: a connection's stream with the bytes already read off it put
 * back in front: the start of a kept-alive connection's next request,
 * read by the server before libsoup is given the connection again. */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/* A stream whose input gives @ahead, then @base's input; its output is
 * @base's. Closing it closes @base; letting go of it does not. */
GIOStream *nearby_read_ahead_stream_new (GIOStream *base, GBytes *ahead);

/* What of @ahead was not read yet, and is now no longer @stream's; NULL if
 * nothing. */
GBytes *nearby_read_ahead_stream_take_rest (GIOStream *stream);

G_END_DECLS
