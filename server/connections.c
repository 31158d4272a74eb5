#define _GNU_SOURCE /* accept4 */
#include "config.h"

#include "connections.h"
#include "read-ahead.h"

#include <errno.h>
#include <fcntl.h>
#include <glib-unix.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#define DEFAULT_MAX_CONNECTIONS 512
#define DEFAULT_MAX_PER_CLIENT 32
#define DEFAULT_HEADER_TIMEOUT_MS 10000
#define DEFAULT_BODY_TIMEOUT_MS 15000
#define DEFAULT_MAX_REQUEST_BYTES (32 * 1024 * 1024)
#define DEFAULT_BODY_BUDGET_BYTES (64 * 1024 * 1024)

#define SWEEP_MS 200
#define ACCEPTS_PER_WAKEUP 64
#define BACKOFF_MIN_MS 20
#define BACKOFF_MAX_MS 1000
/* A connection we answer and close while the client may still be sending is
 * read and discarded for a while first (nginx's lingering close): closing it
 * with unread data would reset it, and the reset can destroy the answer in
 * the client's receive buffer before the client read it. */
#define LINGER_MS 5000
#define MAX_LINGERING 64
/* After we shut a connection down, libsoup closes it on its next read or
 * write; one it does not touch by then is closed under it. */
#define CLOSING_GRACE_MS 2000

/* glib-networking runs each TLS handshake in a thread of GLib's shared
 * pool, blocked until the client answers: a client that stalls there holds
 * a thread, not just a descriptor. So a handshake starts only once its
 * ClientHello is all here (waiting for that costs no thread), at most so
 * many run at once (the pool grows slowly past 10 threads, and our history
 * walks need it too), a client address gets only a few of them, and each
 * has a deadline of its own within the header deadline. A handshake on a
 * LAN takes milliseconds. */
#define MAX_HANDSHAKES 32
#define MAX_HANDSHAKES_PER_CLIENT 4
#define HANDSHAKE_TIMEOUT_MS 2000
#define HELLO_RETRY_MIN_MS 5
/* A TLS record: content type 22 (handshake), version 3.x, a length up to
 * 2^14; its first message a ClientHello (1). */
#define TLS_RECORD_HANDSHAKE 0x16
#define TLS_CLIENT_HELLO 0x01
#define TLS_MAX_RECORD 16384
/* Leave the client time to read a response before the close_notify that
 * libsoup sends synchronously, on the main loop, as it closes. */
#define TLS_CLOSE_TIMEOUT_S 1

/* Of a kept-alive connection's next request, we read this much at most
 * (a TLS record's worth) before libsoup is given it and reads the rest. */
#define READ_AHEAD_CHUNK 16384

#define LINGER_KEY "nearby-linger"
#define KEPT_KEY "nearby-kept"
#define HELD_KEY "nearby-body-held"

typedef enum
{
  CONN_WAITING,   /* accepted; no byte yet, or part of a ClientHello; ours alone */
  CONN_HELLO,     /* a whole ClientHello is here; waiting for a handshake slot */
  CONN_HANDSHAKE, /* the TLS handshake runs; its callback owns the Conn */
  CONN_HEADERS,   /* libsoup's, reading the request headers */
  CONN_BODY,      /* reading the request body */
  CONN_ACTIVE,    /* the request is being answered */
  CONN_IDLE,      /* kept alive after an answer: ours again, until the next request */
  CONN_AHEAD,     /* the next request's start is read; ours, until there is room to answer */
  CONN_CLOSING,   /* shut down by us; libsoup (or a TLS thread) has yet to notice */
} ConnState;

typedef struct _NearbyConnections NearbyConnections;

typedef struct
{
  NearbyConnections *self;
  GSocket *socket;
  GSocketConnection *connection; /* once handed to libsoup or to TLS */
  GTlsConnection *tls;           /* over @connection, for a TLS client */
  GCancellable *handshake;       /* while a handshake is in flight */
  GSocketAddress *remote;
  char *client; /* the remote address, as text */
  ConnState state;
  gint64 deadline;        /* monotonic µs; 0: none */
  gint64 header_deadline; /* for the whole of the request headers */
  GSource *wait;          /* for the first byte, the rest of a ClientHello, the next
                             request's first bytes, or room to answer it */
  guint hello_retry_ms;
  gboolean keep;     /* the answer being written leaves the connection open */
  gboolean hung_up;  /* the client sent its last, or what TLS refuses */
  GByteArray *ahead; /* the next request's start, read by us */
  GIOStream *handed; /* the last stream with some of it, given to libsoup */
  GList *link;       /* in self->conns */
} Conn;

typedef struct
{
  NearbyConnections *self;
  int fd;
  gint64 deadline;
  guint watch_id;
} Linger;

typedef struct
{
  GSocket *socket;
  GSource *source;
} Listener;

struct _NearbyConnections
{
  SoupServer *server;
  NearbyConnectionLimits limits;
  GPtrArray *listeners;   /* Listener */
  GQueue conns;           /* Conn, oldest first */
  GHashTable *by_remote;  /* GSocketAddress* (as libsoup hands it back) -> Conn */
  GHashTable *per_client; /* client text -> its connections not CONN_CLOSING */
  guint n_open;           /* connections not CONN_CLOSING */
  GPtrArray *lingering;   /* Linger */
  guint16 port;
  guint sweep_id;
  gulong request_started_id;
  int spare_fd; /* given up to shed a connection when descriptors run out */
  guint backoff_ms;
  guint resume_id;
  guint64 shed; /* connections refused for want of descriptors, this episode */
  gsize body_held;
  GTlsCertificate *certificate; /* NULL: plain HTTP only */
  guint n_handshakes;           /* in flight */
};

static guint
env_ms (const char *name, guint fallback)
{
  const char *env = g_getenv (name);
  guint64 ms = env != NULL ? g_ascii_strtoull (env, NULL, 10) : 0;

  return ms >= 10 && ms <= 3600000 ? (guint) ms : fallback;
}

void
nearby_connection_limits_init (NearbyConnectionLimits *limits)
{
  limits->max_connections = DEFAULT_MAX_CONNECTIONS;
  limits->max_per_client = DEFAULT_MAX_PER_CLIENT;
  limits->header_timeout_ms = env_ms ("GIT_NEARBY_HEADER_TIMEOUT_MS", DEFAULT_HEADER_TIMEOUT_MS);
  limits->body_timeout_ms = env_ms ("GIT_NEARBY_BODY_TIMEOUT_MS", DEFAULT_BODY_TIMEOUT_MS);
  limits->max_request_bytes = DEFAULT_MAX_REQUEST_BYTES;
  limits->body_budget_bytes = DEFAULT_BODY_BUDGET_BYTES;
}

/* ---- lingering close ---- */

static void
linger_free (gpointer data)
{
  Linger *linger = data;

  g_clear_handle_id (&linger->watch_id, g_source_remove);
  close (linger->fd);
  g_free (linger);
}

static gboolean
on_linger_readable (int fd, GIOCondition condition, gpointer user_data)
{
  Linger *linger = user_data;
  char buffer[16384];

  /* Up to 1 MiB a wakeup, so that one sender does not hold the loop. */
  for (int i = 0; i < 64; i++)
    {
      ssize_t n = recv (fd, buffer, sizeof buffer, MSG_DONTWAIT);

      if (n > 0 || (n < 0 && errno == EINTR))
        continue;
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
        return G_SOURCE_CONTINUE;
      /* The client is done, or gone. */
      linger->watch_id = 0;
      g_ptr_array_remove_fast (linger->self->lingering, linger);
      return G_SOURCE_REMOVE;
    }
  return G_SOURCE_CONTINUE;
}

/* Takes @fd: what was written to it goes out, then a FIN, then whatever the
 * client still sends is discarded until it stops or LINGER_MS pass. */
static void
linger_start (NearbyConnections *self, int fd)
{
  Linger *linger;

  if (fd < 0)
    return;
  shutdown (fd, SHUT_WR);
  if (self->lingering->len >= MAX_LINGERING)
    {
      close (fd);
      return;
    }
  linger = g_new0 (Linger, 1);
  linger->self = self;
  linger->fd = fd;
  linger->deadline = g_get_monotonic_time () + (gint64) LINGER_MS * 1000;
  linger->watch_id = g_unix_fd_add (fd, G_IO_IN | G_IO_HUP | G_IO_ERR, on_linger_readable, linger);
  g_ptr_array_add (self->lingering, linger);
}

/* Answers @socket (not libsoup's) with a short 503 and closes it lingeringly. */
static void
refuse_raw (NearbyConnections *self, GSocket *socket, const char *why)
{
  int fd = dup (g_socket_get_fd (socket));
  g_autofree char *body = g_strdup_printf ("git-nearby: %s; try again shortly\n", why);
  g_autofree char *response = g_strdup_printf ("HTTP/1.1 503 Service Unavailable\r\n"
                                               "Content-Type: text/plain; charset=utf-8\r\n"
                                               "Content-Length: %zu\r\n"
                                               "Retry-After: 5\r\n"
                                               "Connection: close\r\n\r\n%s",
                                               strlen (body), body);

  /* A fresh socket's send buffer takes this at once; if not, never mind. */
  g_socket_close (socket, NULL);
  if (fd >= 0)
    (void) !send (fd, response, strlen (response), MSG_DONTWAIT | MSG_NOSIGNAL);
  linger_start (self, fd);
}

/* ---- connections ---- */

/* A connection counts against the caps until its request is done or it is
 * being closed, not until libsoup gets round to closing it. */
static void
conn_uncount (Conn *conn)
{
  NearbyConnections *self = conn->self;
  guint count = GPOINTER_TO_UINT (g_hash_table_lookup (self->per_client, conn->client));

  self->n_open--;
  if (count > 1)
    g_hash_table_insert (self->per_client, g_strdup (conn->client), GUINT_TO_POINTER (count - 1));
  else
    g_hash_table_remove (self->per_client, conn->client);
}

static void
set_deadline (Conn *conn, guint ms)
{
  conn->deadline = g_get_monotonic_time () + (gint64) ms * 1000;
}

/* Starts the clock for a whole request's headers: from accept, or from the
 * first byte of the next request on a kept-alive connection. */
static void
set_header_deadline (Conn *conn)
{
  set_deadline (conn, conn->self->limits.header_timeout_ms);
  conn->header_deadline = conn->deadline;
}

/* libsoup has (or is about to) let go of @conn; it is freed once its socket
 * is closed, or closed under libsoup after a grace period. */
static void
conn_closing (Conn *conn)
{
  if (conn->state == CONN_CLOSING)
    return;
  conn_uncount (conn);
  conn->state = CONN_CLOSING;
  set_deadline (conn, CLOSING_GRACE_MS);
}

static void
conn_stop_waiting (Conn *conn)
{
  if (conn->wait != NULL)
    {
      g_source_destroy (conn->wait);
      g_clear_pointer (&conn->wait, g_source_unref);
    }
}

/* What @conn holds of its own, once nobody else refers to it. */
static void
conn_release (Conn *conn)
{
  conn_stop_waiting (conn);
  g_clear_pointer (&conn->ahead, g_byte_array_unref);
  g_clear_object (&conn->handed);
  g_clear_object (&conn->handshake);
  g_clear_object (&conn->tls);
  g_clear_object (&conn->connection);
  g_object_unref (conn->socket);
  g_object_unref (conn->remote);
  g_free (conn->client);
  g_free (conn);
}

static void
conn_free (Conn *conn)
{
  NearbyConnections *self = conn->self;

  if (conn->state != CONN_CLOSING)
    conn_uncount (conn);
  g_hash_table_remove (self->by_remote, conn->remote);
  g_queue_delete_link (&self->conns, conn->link);
  conn_release (conn);
}

/* Ends @conn: ours alone, it is closed; libsoup's is shut down, so that
 * libsoup's next read fails and it cleans up after itself. */
static void
conn_drop (Conn *conn, const char *why)
{
  g_debug ("%s: closing a connection: %s", conn->client, why);
  if (conn->state == CONN_WAITING || conn->state == CONN_HELLO
      || ((conn->state == CONN_IDLE || conn->state == CONN_AHEAD) && conn->tls == NULL))
    {
      g_socket_close (conn->socket, NULL);
      conn_free (conn);
      return;
    }
  if (conn->state == CONN_CLOSING)
    return;
  /* A handshake's thread wakes up on the cancellable and the shut-down
   * socket; its callback then frees @conn. The descriptor stays open till
   * then: closing it under a thread that polls it could hit a new one.
   * A kept TLS connection may have such a thread too: a client's
   * renegotiation, which GnuTLS starts on our read of what it sent. */
  if (conn->state == CONN_HANDSHAKE)
    g_cancellable_cancel (conn->handshake);
  if (conn->state == CONN_IDLE || conn->state == CONN_AHEAD)
    conn_stop_waiting (conn);
  shutdown (g_socket_get_fd (conn->socket), SHUT_RDWR);
  conn_closing (conn);
}

static Conn *
conn_for_message (NearbyConnections *self, SoupServerMessage *msg)
{
  GSocketAddress *remote = soup_server_message_get_remote_address (msg);

  return remote != NULL ? g_hash_table_lookup (self->by_remote, remote) : NULL;
}

/* Gives @conn to libsoup, over @stream: the socket itself or TLS over it. */
static void
conn_hand_over (Conn *conn, GIOStream *stream)
{
  NearbyConnections *self = conn->self;
  g_autoptr (GSocketAddress) local = g_socket_get_local_address (conn->socket, NULL);

  if (local == NULL)
    {
      g_socket_close (conn->socket, NULL);
      conn_free (conn);
      return;
    }
  conn->state = CONN_HEADERS;
  conn->keep = FALSE;
  conn->deadline = conn->header_deadline;
  g_hash_table_insert (self->by_remote, conn->remote, conn);
  soup_server_accept_iostream (self->server, stream, local, conn->remote, NULL);
}

static guint
handshakes_of (NearbyConnections *self, const char *client)
{
  guint n = 0;

  for (GList *l = self->conns.head; l != NULL; l = l->next)
    {
      Conn *conn = l->data;

      if (conn->state == CONN_HANDSHAKE && strcmp (conn->client, client) == 0)
        n++;
    }
  return n;
}

static void pump_handshakes (NearbyConnections *self);

static void
on_handshake_done (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Conn *conn = user_data;
  NearbyConnections *self = conn->self;
  g_autoptr (GError) error = NULL;
  gboolean done = g_tls_connection_handshake_finish (G_TLS_CONNECTION (source), result, &error);

  g_clear_object (&conn->handshake);
  if (self == NULL)
    {
      conn_release (conn); /* the server is going away */
      return;
    }
  self->n_handshakes--;
  if (conn->state != CONN_HANDSHAKE)
    {
      /* Dropped meanwhile (deadline, room for another). */
      g_socket_close (conn->socket, NULL);
      conn_free (conn);
    }
  else if (!done)
    {
      /* Someone's scanner or a client that does not trust us: theirs to
       * diagnose, not an error of ours. */
      g_debug ("%s: TLS handshake failed: %s", conn->client, error->message);
      g_socket_close (conn->socket, NULL);
      conn_free (conn);
    }
  else
    conn_hand_over (conn, G_IO_STREAM (conn->tls));
  pump_handshakes (self);
}

static void
conn_handshake (Conn *conn)
{
  NearbyConnections *self = conn->self;
  /* HTTP/1.1 only: libsoup's HTTP/2 would keep its connections itself,
   * out of reach of our caps and deadlines. */
  static const char *const alpn[] = { "http/1.1", NULL };
  g_autoptr (GError) error = NULL;
  GIOStream *tls;

  conn->connection = g_socket_connection_factory_create_connection (conn->socket);
  /* No database: we ask no client for a certificate. glib-networking
   * would otherwise parse the system's CA store for every connection. */
  tls = g_initable_new (g_tls_backend_get_server_connection_type (g_tls_backend_get_default ()),
                        NULL, &error, "base-io-stream", conn->connection, "certificate",
                        self->certificate, "authentication-mode", G_TLS_AUTHENTICATION_NONE,
                        "database", NULL, NULL);
  if (tls == NULL)
    {
      g_warning ("%s: cannot set up TLS: %s", conn->client, error->message);
      g_socket_close (conn->socket, NULL);
      conn_free (conn);
      return;
    }
  conn->tls = G_TLS_CONNECTION (tls);
  /* Each request is framed; a client may hang up without close_notify. */
  g_tls_connection_set_require_close_notify (conn->tls, FALSE);
  g_tls_connection_set_advertised_protocols (conn->tls, alpn);
  conn->state = CONN_HANDSHAKE;
  conn->handshake = g_cancellable_new ();
  conn->deadline
      = MIN (conn->header_deadline, g_get_monotonic_time () + (gint64) HANDSHAKE_TIMEOUT_MS * 1000);
  self->n_handshakes++;
  g_tls_connection_handshake_async (conn->tls, G_PRIORITY_DEFAULT, conn->handshake,
                                    on_handshake_done, conn);
}

/* Starts the handshakes whose ClientHello is here, oldest first, as far as
 * the limits on handshakes allow. */
static void
pump_handshakes (NearbyConnections *self)
{
  GList *next;

  for (GList *l = self->conns.head; l != NULL && self->n_handshakes < MAX_HANDSHAKES; l = next)
    {
      Conn *conn = l->data;

      next = l->next;
      if (conn->state == CONN_HELLO
          && handshakes_of (self, conn->client) < MAX_HANDSHAKES_PER_CLIENT)
        conn_handshake (conn);
    }
}

typedef enum
{
  HELLO_PARTIAL,
  HELLO_COMPLETE,
  HELLO_BAD,
} HelloStatus;

/* Whether the first TLS record on @fd, a ClientHello, is all here; looks
 * without reading. */
static HelloStatus
hello_status (int fd)
{
  guchar head[6];
  ssize_t n = recv (fd, head, sizeof head, MSG_PEEK | MSG_DONTWAIT);
  int available = 0;
  guint length;

  if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
    return HELLO_PARTIAL;
  if (n <= 0 || head[0] != TLS_RECORD_HANDSHAKE || (n > 1 && head[1] != 0x03))
    return HELLO_BAD;
  if (n < 5)
    return HELLO_PARTIAL;
  length = (guint) head[3] << 8 | head[4];
  if (length == 0 || length > TLS_MAX_RECORD || (n > 5 && head[5] != TLS_CLIENT_HELLO))
    return HELLO_BAD;
  if (ioctl (fd, FIONREAD, &available) < 0)
    return HELLO_BAD;
  return (guint) available >= 5 + length ? HELLO_COMPLETE : HELLO_PARTIAL;
}

static gboolean on_hello_retry (gpointer user_data);

/* A TLS client: waits for its whole ClientHello, looking again after 5 ms,
 * then less and less often (data already here would wake a descriptor
 * watch at once, again and again). The header deadline still applies. */
static void
conn_check_hello (Conn *conn)
{
  switch (hello_status (g_socket_get_fd (conn->socket)))
    {
    case HELLO_COMPLETE:
      conn->state = CONN_HELLO;
      pump_handshakes (conn->self);
      break;
    case HELLO_BAD:
      g_debug ("%s: not a TLS ClientHello; closing the connection", conn->client);
      g_socket_close (conn->socket, NULL);
      conn_free (conn);
      break;
    case HELLO_PARTIAL:
      conn->hello_retry_ms = CLAMP (conn->hello_retry_ms * 2, HELLO_RETRY_MIN_MS, SWEEP_MS);
      conn->wait = g_timeout_source_new (conn->hello_retry_ms);
      g_source_set_callback (conn->wait, on_hello_retry, conn, NULL);
      g_source_attach (conn->wait, NULL);
      break;
    }
}

static gboolean
on_hello_retry (gpointer user_data)
{
  Conn *conn = user_data;

  g_clear_pointer (&conn->wait, g_source_unref);
  conn_check_hello (conn);
  return G_SOURCE_REMOVE;
}

static gboolean
on_first_byte (GSocket *socket, GIOCondition condition, gpointer user_data)
{
  Conn *conn = user_data;
  guchar byte;
  ssize_t n = recv (g_socket_get_fd (socket), &byte, 1, MSG_PEEK | MSG_DONTWAIT);

  if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
    return G_SOURCE_CONTINUE;
  g_clear_pointer (&conn->wait, g_source_unref);
  if (n <= 0)
    {
      /* Closed before it said anything: libsoup never needs to know. */
      g_socket_close (socket, NULL);
      conn_free (conn);
    }
  else if (byte == TLS_RECORD_HANDSHAKE && conn->self->certificate != NULL)
    conn_check_hello (conn);
  else
    {
      conn->connection = g_socket_connection_factory_create_connection (socket);
      conn_hand_over (conn, G_IO_STREAM (conn->connection));
    }
  return G_SOURCE_REMOVE;
}

static void
conn_wait_first_byte (Conn *conn)
{
  conn->wait = g_socket_create_source (conn->socket, G_IO_IN | G_IO_HUP | G_IO_ERR, NULL);
  g_source_set_callback (conn->wait, G_SOURCE_FUNC (on_first_byte), conn, NULL);
  g_source_attach (conn->wait, NULL);
}

typedef enum
{
  READ_SOME,
  READ_NONE, /* for now */
  READ_END,  /* the client hung up, or sent what TLS refuses */
} ReadStatus;

/* One read of what @input has now (a TLS record's worth), onto *@into
 * (made if need be: an idle connection holds no buffer). */
static ReadStatus
read_chunk (GByteArray **into, GInputStream *input)
{
  g_autoptr (GError) error = NULL;
  guint8 buffer[READ_AHEAD_CHUNK];
  gssize n;

  if (!G_IS_POLLABLE_INPUT_STREAM (input))
    return READ_END;
  n = g_pollable_input_stream_read_nonblocking (G_POLLABLE_INPUT_STREAM (input), buffer,
                                                sizeof buffer, NULL, &error);
  if (n > 0)
    {
      if (*into == NULL)
        *into = g_byte_array_sized_new ((guint) n);
      g_byte_array_append (*into, buffer, (guint) n);
      return READ_SOME;
    }
  return n < 0 && g_error_matches (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK) ? READ_NONE
                                                                              : READ_END;
}

/* What libsoup read past the answer just written is in @stolen (the stream
 * it let go of) alone, and would be dropped with it: libsoup reads in
 * blocks of 8 KiB, and a client that pipelines sends its next request
 * early. So it is read onto conn->ahead: libsoup's block in one read, then
 * the rest of what we read ahead last time. With no block left, that read
 * reaches what we read ahead, what GnuTLS holds decrypted (no wait on the
 * socket would see it), or the socket's. FALSE once the client has hung
 * up, or sent what TLS refuses. */
static gboolean
conn_read_ahead (Conn *conn, GIOStream *stolen)
{
  g_autoptr (GIOStream) handed = g_steal_pointer (&conn->handed);
  g_autoptr (GBytes) rest = NULL;

  switch (read_chunk (&conn->ahead, g_io_stream_get_input_stream (stolen)))
    {
    case READ_SOME:
      break;
    case READ_NONE:
      return TRUE;
    case READ_END:
      return FALSE;
    }
  if (handed != NULL && (rest = nearby_read_ahead_stream_take_rest (handed)) != NULL)
    g_byte_array_append (conn->ahead, g_bytes_get_data (rest, NULL), g_bytes_get_size (rest));
  return TRUE;
}

static GIOStream *
conn_stream (Conn *conn)
{
  return conn->tls != NULL ? G_IO_STREAM (conn->tls) : G_IO_STREAM (conn->connection);
}

static gboolean
on_room (GSocket *socket, GIOCondition condition, gpointer user_data)
{
  Conn *conn = user_data;
  g_autoptr (GBytes) ahead = NULL;
  g_autoptr (GIOStream) stream = NULL;

  g_clear_pointer (&conn->wait, g_source_unref);
  if ((condition & G_IO_OUT) == 0)
    {
      conn_drop (conn, "gone before its next request was answered");
      return G_SOURCE_REMOVE;
    }
  ahead = g_byte_array_free_to_bytes (g_steal_pointer (&conn->ahead));
  stream = nearby_read_ahead_stream_new (conn_stream (conn), ahead);
  conn->handed = g_object_ref (stream);
  conn_hand_over (conn, stream);
  return G_SOURCE_REMOVE;
}

/* The next request's start is here; libsoup gets it, in front of the rest,
 * once the end of the last answer has left room to write: libsoup's close
 * of a TLS connection writes a close_notify that would block the main loop
 * on a client that does not read. From the main loop, too: not inside the
 * last answer's signals. */
static void
conn_wait_room (Conn *conn)
{
  conn->state = CONN_AHEAD;
  conn->wait = g_socket_create_source (conn->socket, G_IO_OUT | G_IO_HUP | G_IO_ERR, NULL);
  g_source_set_callback (conn->wait, G_SOURCE_FUNC (on_room), conn, NULL);
  g_source_attach (conn->wait, NULL);
}

/* Closes @conn, kept alive and ours alone, at once (conn_drop () waits for
 * a thread that may poll a TLS socket): its client ended the stream, so no
 * renegotiation's thread is on it. */
static void
conn_close_ended (Conn *conn, const char *why)
{
  g_debug ("%s: closing a connection: %s", conn->client, why);
  g_socket_close (conn->socket, NULL);
  conn_free (conn);
}

/* Bytes on an idle kept-alive connection: only a request's, decrypted,
 * go to libsoup; a TLS alert, a hang-up or a part of a record do not. */
static gboolean
on_next_bytes (GObject *input, gpointer user_data)
{
  Conn *conn = user_data;
  ReadStatus status = read_chunk (&conn->ahead, G_INPUT_STREAM (input));

  if (status == READ_NONE)
    return G_SOURCE_CONTINUE;
  g_clear_pointer (&conn->wait, g_source_unref);
  if (status == READ_END)
    {
      conn_close_ended (conn, "no request after an answer");
      return G_SOURCE_REMOVE;
    }
  set_header_deadline (conn); /* the whole of it, from its first byte */
  conn_wait_room (conn);
  return G_SOURCE_REMOVE;
}

/* After an answer on a kept-alive connection: ours alone again, with what
 * was read of the next request (conn_read_ahead () at the steal), waiting
 * for the rest of its start as a new connection waits for its first byte,
 * under the same header deadline and caps (make_room () sheds it first). */
static void
conn_keep (Conn *conn)
{
  GInputStream *input = g_io_stream_get_input_stream (conn_stream (conn));

  conn->state = CONN_IDLE;
  set_header_deadline (conn);
  if (conn->ahead != NULL)
    conn_wait_room (conn); /* pipelined, or quick: libsoup answers, then sees any hang-up */
  else if (conn->hung_up)
    conn_close_ended (conn, "hung up after an answer");
  else
    {
      conn->wait = g_pollable_input_stream_create_source (G_POLLABLE_INPUT_STREAM (input), NULL);
      g_source_set_callback (conn->wait, G_SOURCE_FUNC (on_next_bytes), conn, NULL);
      g_source_attach (conn->wait, NULL);
    }
}

/* Makes room for one more connection: the oldest one kept alive after an
 * answer goes, else the oldest one still waiting for its request headers
 * (idle connections and slow senders), never a request in progress. */
static gboolean
make_room (NearbyConnections *self)
{
  for (int pass = 0; pass < 2; pass++)
    for (GList *l = self->conns.head; l != NULL; l = l->next)
      {
        Conn *conn = l->data;

        if (conn->state == CONN_IDLE
            || (pass == 1
                && (conn->state == CONN_WAITING || conn->state == CONN_HELLO
                    || conn->state == CONN_HANDSHAKE || conn->state == CONN_AHEAD
                    || conn->state == CONN_HEADERS)))
          {
            conn_drop (conn, "making room for a new connection");
            return TRUE;
          }
      }
  return FALSE;
}

static void
take (NearbyConnections *self, GSocket *socket)
{
  g_autoptr (GSocketAddress) remote = g_socket_get_remote_address (socket, NULL);
  g_autofree char *client = NULL;
  guint count;
  Conn *conn;

  if (remote == NULL || !G_IS_INET_SOCKET_ADDRESS (remote))
    {
      g_socket_close (socket, NULL);
      return;
    }
  client = g_inet_address_to_string (
      g_inet_socket_address_get_address (G_INET_SOCKET_ADDRESS (remote)));
  count = GPOINTER_TO_UINT (g_hash_table_lookup (self->per_client, client));
  if (count >= self->limits.max_per_client)
    {
      g_message ("%s: %u connections open from this address already; refused", client, count);
      refuse_raw (self, socket, "too many connections from your address");
      return;
    }
  if (self->n_open >= self->limits.max_connections && !make_room (self))
    {
      g_message ("%s: %u connections open, all busy; refused", client,
                 self->limits.max_connections);
      refuse_raw (self, socket, "the server is busy");
      return;
    }

  conn = g_new0 (Conn, 1);
  conn->self = self;
  conn->socket = g_object_ref (socket);
  conn->remote = g_steal_pointer (&remote);
  conn->client = g_steal_pointer (&client);
  conn->state = CONN_WAITING;
  self->n_open++;
  set_header_deadline (conn);
  g_queue_push_tail (&self->conns, conn);
  conn->link = self->conns.tail;
  g_hash_table_insert (self->per_client, g_strdup (conn->client), GUINT_TO_POINTER (count + 1));
  conn_wait_first_byte (conn);
}

/* ---- accepting ---- */

static void listeners_watch (NearbyConnections *self, gboolean on);

static gboolean
on_resume (gpointer user_data)
{
  NearbyConnections *self = user_data;

  self->resume_id = 0;
  listeners_watch (self, TRUE);
  return G_SOURCE_REMOVE;
}

/* accept() failed for want of something (descriptors, memory): we wait a
 * little, longer each time in a row, and accept again. Out of descriptors,
 * the connection at the head of the backlog is first accepted on the spare
 * descriptor and closed at once, so that its client gets an answer (a closed
 * connection) instead of a hang. */
static void
back_off (NearbyConnections *self, GSocket *listening, gboolean out_of_descriptors, const char *why)
{
  int fd;

  if (out_of_descriptors && self->spare_fd >= 0)
    {
      close (self->spare_fd);
      fd = accept4 (g_socket_get_fd (listening), NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
      if (fd >= 0)
        {
          close (fd);
          self->shed++;
        }
      self->spare_fd = open ("/dev/null", O_RDONLY | O_CLOEXEC);
    }
  if (self->backoff_ms == 0)
    g_warning ("cannot accept connections (%s); trying again shortly", why);
  self->backoff_ms = CLAMP (self->backoff_ms * 2, BACKOFF_MIN_MS, BACKOFF_MAX_MS);
  listeners_watch (self, FALSE);
  self->resume_id = g_timeout_add (self->backoff_ms, on_resume, self);
}

static gboolean
on_incoming (GSocket *listening, GIOCondition condition, gpointer user_data)
{
  NearbyConnections *self = user_data;

  for (int i = 0; i < ACCEPTS_PER_WAKEUP; i++)
    {
      g_autoptr (GError) error = NULL;
      g_autoptr (GSocket) socket = g_socket_accept (listening, NULL, &error);

      if (socket != NULL)
        {
          if (self->backoff_ms != 0)
            {
              g_message ("accepting connections again (%" G_GUINT64_FORMAT " refused meanwhile)",
                         self->shed);
              self->backoff_ms = 0;
              self->shed = 0;
            }
          /* As libsoup does for the sockets it accepts itself: a response
           * and a TLS flight are written in several pieces, none of which
           * should wait for the peer's ACK of the one before. */
          g_socket_set_option (socket, IPPROTO_TCP, TCP_NODELAY, TRUE, NULL);
          take (self, socket);
          continue;
        }
      if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK))
        break;
      if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CONNECTION_CLOSED)
          || g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CONNECTION_REFUSED))
        continue; /* that one connection is gone, not the listener */
      g_debug ("accept: %s", error->message);
      back_off (self, listening,
                g_error_matches (error, G_IO_ERROR, G_IO_ERROR_TOO_MANY_OPEN_FILES),
                error->message);
      return G_SOURCE_CONTINUE; /* its source is gone already */
    }
  return G_SOURCE_CONTINUE;
}

/* Accepting on @listener, or not. */
static void
listener_watch (NearbyConnections *self, Listener *listener, gboolean on)
{
  if (listener->source != NULL)
    {
      g_source_destroy (listener->source);
      g_clear_pointer (&listener->source, g_source_unref);
    }
  if (on)
    {
      listener->source = g_socket_create_source (listener->socket, G_IO_IN, NULL);
      g_source_set_callback (listener->source, G_SOURCE_FUNC (on_incoming), self, NULL);
      g_source_attach (listener->source, NULL);
    }
}

static void
listeners_watch (NearbyConnections *self, gboolean on)
{
  for (guint i = 0; i < self->listeners->len; i++)
    listener_watch (self, self->listeners->pdata[i], on);
}

static void
listener_free (gpointer data)
{
  Listener *listener = data;

  if (listener->source != NULL)
    {
      g_source_destroy (listener->source);
      g_source_unref (listener->source);
    }
  g_socket_close (listener->socket, NULL);
  g_object_unref (listener->socket);
  g_free (listener);
}

/* ---- requests ---- */

/* What of the budget @msg holds. */
static gsize
held_body (SoupServerMessage *msg)
{
  return GPOINTER_TO_SIZE (g_object_get_data (G_OBJECT (msg), HELD_KEY));
}

static void
hold_body (NearbyConnections *self, SoupServerMessage *msg, gsize more)
{
  g_object_set_data (G_OBJECT (msg), HELD_KEY, GSIZE_TO_POINTER (held_body (msg) + more));
  self->body_held += more;
}

static void
refuse_message (SoupServerMessage *msg, guint status, const char *text)
{
  g_autofree char *body = g_strconcat ("git-nearby: ", text, "\n", NULL);

  soup_server_message_set_status (msg, status, NULL);
  soup_server_message_set_response (msg, "text/plain; charset=utf-8", SOUP_MEMORY_COPY, body,
                                    strlen (body));
  /* libsoup reads a body that was not asked for with "Expect: 100-continue"
   * before it answers: let it read without keeping anything. Whatever of the
   * body is still coming after the answer is discarded too, not reset. */
  soup_message_body_set_accumulate (soup_server_message_get_request_body (msg), FALSE);
  g_object_set_data (G_OBJECT (msg), LINGER_KEY, GINT_TO_POINTER (1));
}

/* A body announced as too large, or larger than the budget has room for, is
 * refused before it is read. */
static void
on_got_headers (SoupServerMessage *msg, gpointer user_data)
{
  NearbyConnections *self = user_data;
  SoupMessageHeaders *headers = soup_server_message_get_request_headers (msg);
  Conn *conn = conn_for_message (self, msg);
  const char *client = soup_server_message_get_remote_host (msg);
  goffset length;

  if (conn != NULL && conn->state != CONN_CLOSING)
    {
      conn->state = CONN_BODY;
      set_deadline (conn, self->limits.body_timeout_ms);
    }
  if (soup_message_headers_get_encoding (headers) != SOUP_ENCODING_CONTENT_LENGTH)
    return;
  length = soup_message_headers_get_content_length (headers);
  if ((guint64) length > self->limits.max_request_bytes)
    {
      g_autofree char *text = g_strdup_printf ("requests are limited to %zu MiB",
                                               self->limits.max_request_bytes >> 20);

      g_message ("%s: request body over %zu MiB; refused", client,
                 self->limits.max_request_bytes >> 20);
      refuse_message (msg, SOUP_STATUS_REQUEST_ENTITY_TOO_LARGE, text);
      return;
    }
  if (self->body_held + length > self->limits.body_budget_bytes)
    {
      g_message ("%s: %zu MiB of request bodies held already; refused one of %" G_GOFFSET_FORMAT
                 " bytes",
                 client, self->body_held >> 20, length);
      refuse_message (msg, SOUP_STATUS_SERVICE_UNAVAILABLE,
                      "the server is busy; try again shortly");
      soup_message_headers_replace (soup_server_message_get_response_headers (msg), "Retry-After",
                                    "5");
      return;
    }
  /* Reserved whole now: what is announced may all be held. */
  hold_body (self, msg, length);
}

/* A chunked body counts as it arrives, against the same limits. */
static void
on_got_chunk (SoupServerMessage *msg, GBytes *chunk, gpointer user_data)
{
  NearbyConnections *self = user_data;
  Conn *conn = conn_for_message (self, msg);
  SoupMessageHeaders *headers = soup_server_message_get_request_headers (msg);
  gsize counted = held_body (msg);
  gsize len = g_bytes_get_size (chunk);

  if (conn != NULL && conn->state == CONN_BODY)
    set_deadline (conn, self->limits.body_timeout_ms);
  /* Reserved at its headers, or refused and read only to be thrown away. */
  if (soup_message_headers_get_encoding (headers) == SOUP_ENCODING_CONTENT_LENGTH
      || g_object_get_data (G_OBJECT (msg), LINGER_KEY) != NULL)
    return;
  if (counted + len > self->limits.max_request_bytes
      || self->body_held + len > self->limits.body_budget_bytes)
    {
      if (counted + len > self->limits.max_request_bytes)
        g_message ("%s: request body over %zu MiB; closing the connection",
                   soup_server_message_get_remote_host (msg), self->limits.max_request_bytes >> 20);
      else
        g_message ("%s: %zu MiB of request bodies held already; closing the connection",
                   soup_server_message_get_remote_host (msg), self->body_held >> 20);
      g_signal_handlers_disconnect_by_func (msg, on_got_chunk, user_data);
      if (conn != NULL)
        conn_drop (conn, "request body too large");
      return;
    }
  hold_body (self, msg, len);
}

static void
on_got_body (SoupServerMessage *msg, gpointer user_data)
{
  Conn *conn = conn_for_message (user_data, msg);

  if (conn != NULL && conn->state == CONN_BODY)
    {
      conn->state = CONN_ACTIVE;
      conn->deadline = 0; /* answers take what they take; packs send keepalives */
      /* The request is all read: the connection may serve the next one
       * (git sends three or so per fetch, each a TLS handshake less). Not
       * for HTTP/1.0, a client that said close, or an answer given before
       * its body was read. */
      if (soup_server_message_get_http_version (msg) == SOUP_HTTP_1_1
          && !soup_message_headers_header_contains (soup_server_message_get_request_headers (msg),
                                                    "Connection", "close")
          && g_object_get_data (G_OBJECT (msg), LINGER_KEY) == NULL)
        {
          soup_message_headers_remove (soup_server_message_get_response_headers (msg),
                                       "Connection");
          conn->keep = TRUE;
        }
    }
}

/* The answer is all written: a connection kept alive is taken back from
 * libsoup before libsoup would keep it itself, as libsoup 3.2 leaks every
 * idle connection that its client closes. libsoup ends the message it lets
 * go of without a "finished"; its handlers (ours: they free what served
 * it) are run here. */
static void
on_wrote_body (SoupServerMessage *msg, gpointer user_data)
{
  Conn *conn = conn_for_message (user_data, msg);
  g_autoptr (GIOStream) stream = NULL;

  if (conn == NULL || conn->state != CONN_ACTIVE || !conn->keep
      || soup_message_headers_header_contains (soup_server_message_get_response_headers (msg),
                                               "Connection", "close"))
    return;
  g_object_ref (msg); /* the steal may drop libsoup's last reference */
  stream = soup_server_message_steal_connection (msg);
  if (stream != NULL)
    {
      conn->hung_up = !conn_read_ahead (conn, stream);
      g_object_set_data (G_OBJECT (msg), KEPT_KEY, GINT_TO_POINTER (1));
      g_signal_emit_by_name (msg, "finished");
    }
  g_object_unref (msg);
}

static void
on_finished (SoupServerMessage *msg, gpointer user_data)
{
  NearbyConnections *self = user_data;
  Conn *conn = conn_for_message (self, msg);

  self->body_held -= held_body (msg);
  g_object_set_data (G_OBJECT (msg), HELD_KEY, NULL);
  g_signal_handlers_disconnect_by_data (msg, self);
  if (conn == NULL)
    return;
  if (g_object_get_data (G_OBJECT (msg), KEPT_KEY) != NULL)
    {
      conn_keep (conn);
      return;
    }
  /* libsoup closes the connection right after this (not kept alive); a
   * duplicate of the descriptor keeps the socket open for the lingering. */
  if (g_object_get_data (G_OBJECT (msg), LINGER_KEY) != NULL && conn->state != CONN_CLOSING)
    {
      int fd = dup (g_socket_get_fd (conn->socket));

      if (fd >= 0)
        linger_start (self, fd);
    }
  else if (conn->tls != NULL && conn->state != CONN_CLOSING)
    {
      /* libsoup's close of a TLS connection writes a close_notify and
       * blocks the main loop until it is written: to a client that stopped
       * reading, not at all (the response is in the socket; a FIN follows
       * it), else for at most a second. */
      struct pollfd pfd = { .fd = g_socket_get_fd (conn->socket), .events = POLLOUT };

      if (poll (&pfd, 1, 0) != 1 || (pfd.revents & POLLOUT) == 0)
        shutdown (pfd.fd, SHUT_WR);
      g_socket_set_timeout (conn->socket, TLS_CLOSE_TIMEOUT_S);
    }
  conn_closing (conn);
}

static void
on_request_started (SoupServer *server, SoupServerMessage *msg, gpointer user_data)
{
  NearbyConnections *self = user_data;

  /* Unless its request is read whole and asks no close: on_got_body (). */
  soup_message_headers_replace (soup_server_message_get_response_headers (msg), "Connection",
                                "close");
  g_signal_connect (msg, "got-headers", G_CALLBACK (on_got_headers), self);
  g_signal_connect (msg, "got-chunk", G_CALLBACK (on_got_chunk), self);
  g_signal_connect (msg, "got-body", G_CALLBACK (on_got_body), self);
  g_signal_connect (msg, "wrote-body", G_CALLBACK (on_wrote_body), self);
  g_signal_connect (msg, "finished", G_CALLBACK (on_finished), self);
}

/* ---- the clock ---- */

static gboolean
on_sweep (gpointer user_data)
{
  NearbyConnections *self = user_data;
  gint64 now = g_get_monotonic_time ();
  GList *next;

  for (GList *l = self->conns.head; l != NULL; l = next)
    {
      Conn *conn = l->data;

      next = l->next;
      if (conn->handshake != NULL)
        {
          /* Its callback frees it; a dropped one is only waiting for that. */
          if (conn->state == CONN_HANDSHAKE && conn->deadline != 0 && now >= conn->deadline)
            {
              g_message ("%s: the TLS handshake did not finish in time; closing the connection",
                         conn->client);
              conn_drop (conn, "handshake timeout");
            }
          continue;
        }
      if (g_socket_is_closed (conn->socket))
        {
          conn_free (conn); /* libsoup is done with it */
          continue;
        }
      if (conn->deadline == 0 || now < conn->deadline)
        continue;
      switch (conn->state)
        {
        case CONN_IDLE:
          conn_drop (conn, "idle after an answer"); /* as any server does: not worth a line */
          break;
        case CONN_WAITING:
        case CONN_HELLO:
        case CONN_HEADERS:
          g_message ("%s: no complete request within %u ms; closing the connection", conn->client,
                     self->limits.header_timeout_ms);
          conn_drop (conn, "header timeout");
          break;
        case CONN_AHEAD:
          g_message ("%s: its answers not read for %u ms; closing the connection", conn->client,
                     self->limits.header_timeout_ms);
          conn_drop (conn, "answers not read");
          break;
        case CONN_BODY:
          g_message ("%s: the request body stalled for %u ms; closing the connection", conn->client,
                     self->limits.body_timeout_ms);
          conn_drop (conn, "body timeout");
          break;
        case CONN_CLOSING:
          /* libsoup did not look at it: close it under libsoup, whose next
           * look then fails cleanly on the closed GSocket. */
          g_socket_close (conn->socket, NULL);
          conn_free (conn);
          break;
        case CONN_HANDSHAKE: /* handled above */
        case CONN_ACTIVE:
          break;
        }
    }
  for (guint i = self->lingering->len; i > 0; i--)
    {
      Linger *linger = self->lingering->pdata[i - 1];

      if (now >= linger->deadline)
        g_ptr_array_remove_index_fast (self->lingering, i - 1);
    }
  return G_SOURCE_CONTINUE;
}

/* ---- the object ---- */

NearbyConnections *
nearby_connections_new (SoupServer *server, const NearbyConnectionLimits *limits)
{
  NearbyConnections *self = g_new0 (NearbyConnections, 1);

  self->server = g_object_ref (server);
  self->limits = *limits;
  self->limits.max_connections = MAX (self->limits.max_connections, 1);
  self->limits.max_per_client
      = CLAMP (self->limits.max_per_client, 1, self->limits.max_connections);
  self->listeners = g_ptr_array_new_with_free_func (listener_free);
  self->lingering = g_ptr_array_new_with_free_func (linger_free);
  self->by_remote = g_hash_table_new (NULL, NULL);
  self->per_client = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  g_queue_init (&self->conns);
  self->spare_fd = open ("/dev/null", O_RDONLY | O_CLOEXEC);
  self->request_started_id
      = g_signal_connect (server, "request-started", G_CALLBACK (on_request_started), self);
  self->sweep_id = g_timeout_add (SWEEP_MS, on_sweep, self);
  return self;
}

void
nearby_connections_free (NearbyConnections *self)
{
  if (self == NULL)
    return;
  g_clear_handle_id (&self->sweep_id, g_source_remove);
  g_clear_handle_id (&self->resume_id, g_source_remove);
  g_clear_signal_handler (&self->request_started_id, self->server);
  g_ptr_array_unref (self->listeners);
  while (!g_queue_is_empty (&self->conns))
    {
      Conn *conn = g_queue_peek_head (&self->conns);

      if (conn->handshake != NULL)
        {
          /* Its callback, if the loop ever runs again, only releases it. */
          g_cancellable_cancel (conn->handshake);
          shutdown (g_socket_get_fd (conn->socket), SHUT_RDWR);
          g_queue_delete_link (&self->conns, conn->link);
          conn->self = NULL;
          continue;
        }
      g_socket_close (conn->socket, NULL);
      conn_free (conn);
    }
  g_ptr_array_unref (self->lingering);
  g_hash_table_unref (self->by_remote);
  g_hash_table_unref (self->per_client);
  if (self->spare_fd >= 0)
    close (self->spare_fd);
  g_clear_object (&self->certificate);
  g_object_unref (self->server);
  g_free (self);
}

static GSocket *
listening_socket (GInetAddress *address, guint16 port, GError **error)
{
  GSocketFamily family = g_inet_address_get_family (address);
  g_autoptr (GSocket) socket
      = g_socket_new (family, G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP, error);
  g_autoptr (GSocketAddress) where = NULL;

  if (socket == NULL)
    return NULL;
  /* "::" means IPv6 alone; IPv4 gets a socket of its own. */
  if (family == G_SOCKET_FAMILY_IPV6
      && !g_socket_set_option (socket, IPPROTO_IPV6, IPV6_V6ONLY, 1, error))
    return NULL;
  where = g_inet_socket_address_new (address, port);
  g_socket_set_listen_backlog (socket, 512);
  if (!g_socket_bind (socket, where, TRUE, error) || !g_socket_listen (socket, error))
    return NULL;
  g_socket_set_blocking (socket, FALSE);
  return g_steal_pointer (&socket);
}

static void
add_listener (NearbyConnections *self, GSocket *socket)
{
  Listener *listener = g_new0 (Listener, 1);
  g_autoptr (GSocketAddress) local = g_socket_get_local_address (socket, NULL);

  listener->socket = socket;
  if (self->port == 0 && local != NULL)
    self->port = g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (local));
  g_ptr_array_add (self->listeners, listener);
  listener_watch (self, listener, self->resume_id == 0);
}

gboolean
nearby_connections_listen (NearbyConnections *self, GInetAddress *address, guint16 port,
                           GError **error)
{
  g_autoptr (GInetAddress) any6 = NULL;
  g_autoptr (GInetAddress) any4 = NULL;
  g_autoptr (GError) v6_error = NULL;
  GSocket *socket;

  if (port == 0)
    port = self->port;
  if (address != NULL)
    {
      if ((socket = listening_socket (address, port, error)) == NULL)
        return FALSE;
      add_listener (self, socket);
      return TRUE;
    }
  /* Every address: IPv6 where the machine has it, IPv4 always. */
  any6 = g_inet_address_new_any (G_SOCKET_FAMILY_IPV6);
  any4 = g_inet_address_new_any (G_SOCKET_FAMILY_IPV4);
  socket = listening_socket (any6, port, &v6_error);
  if (socket != NULL)
    {
      add_listener (self, socket);
      port = self->port;
    }
  else if (!g_error_matches (v6_error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED)
           && !g_error_matches (v6_error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT)
           && !g_error_matches (v6_error, G_IO_ERROR, G_IO_ERROR_FAILED))
    {
      g_propagate_error (error, g_steal_pointer (&v6_error));
      return FALSE;
    }
  if ((socket = listening_socket (any4, port, error)) == NULL)
    return FALSE;
  add_listener (self, socket);
  return TRUE;
}

void
nearby_connections_set_certificate (NearbyConnections *self, GTlsCertificate *certificate)
{
  g_set_object (&self->certificate, certificate);
}

guint16
nearby_connections_get_port (NearbyConnections *self)
{
  return self->port;
}

GStrv
nearby_connections_get_uris (NearbyConnections *self)
{
  g_autoptr (GStrvBuilder) builder = g_strv_builder_new ();

  for (guint i = 0; i < self->listeners->len; i++)
    {
      Listener *listener = self->listeners->pdata[i];
      g_autoptr (GSocketAddress) local = g_socket_get_local_address (listener->socket, NULL);
      g_autofree char *host = NULL;
      g_autofree char *uri = NULL;
      GInetSocketAddress *inet;

      if (local == NULL)
        continue;
      inet = G_INET_SOCKET_ADDRESS (local);
      host = g_inet_address_to_string (g_inet_socket_address_get_address (inet));
      uri = g_strdup_printf (strchr (host, ':') != NULL ? "http://[%s]:%u/" : "http://%s:%u/", host,
                             g_inet_socket_address_get_port (inet));
      g_strv_builder_add (builder, uri);
    }
  return g_strv_builder_end (builder);
}
