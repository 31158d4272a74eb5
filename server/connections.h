/* git-nearby: the server's connections, owned by us rather than by libsoup.
 *
 * We listen and accept ourselves and hand a connection to the SoupServer only
 * once its first byte has arrived. On the way we hold every connection to a
 * bound: so many overall and per client address (over it: a 503, or the
 * oldest connection still waiting for its request makes room), a deadline
 * for the request headers and for each stretch of a request body, a budget
 * for all request bodies buffered at once, and an accept loop that sheds
 * connections and backs off, never stops, when descriptors run out.
 *
 * Why not libsoup's own listener: libsoup 3.2.3 stops accepting for good
 * after one accept() error (EMFILE), and leaks every connection that a client
 * closes while it is idle. So libsoup never holds an idle connection: once
 * an answer is written on a connection kept alive (HTTP/1.1, its request
 * read whole, no close asked), we take it back, and it waits for its next
 * request as a new connection does, under the same caps and header
 * deadline. Pipelined requests are not supported: a request sent before
 * the answer to the one before it may be lost with libsoup's buffer.
 *
 * One port serves plain HTTP and TLS: a connection whose first byte is 0x16
 * (a TLS handshake record) is handshaken with the server's certificate and
 * handed to libsoup as TLS; any other is plain HTTP. The handshake counts
 * as part of the request headers, against the same caps and deadline. */
#pragma once

#include <libsoup/soup.h>

G_BEGIN_DECLS

typedef struct
{
  guint max_connections;   /* overall */
  guint max_per_client;    /* per client address */
  guint header_timeout_ms; /* from accept to the end of the request headers */
  guint body_timeout_ms;   /* the longest pause within a request body */
  gsize max_request_bytes; /* one request body; over it: 413 */
  gsize body_budget_bytes; /* all request bodies held at once; over it: 503 */
} NearbyConnectionLimits;

/* The defaults, with GIT_NEARBY_HEADER_TIMEOUT_MS and
 * GIT_NEARBY_BODY_TIMEOUT_MS taken into account (the tests shorten them). */
void nearby_connection_limits_init (NearbyConnectionLimits *limits);

typedef struct _NearbyConnections NearbyConnections;

NearbyConnections *nearby_connections_new (SoupServer *server,
                                           const NearbyConnectionLimits *limits);
void nearby_connections_free (NearbyConnections *self);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (NearbyConnections, nearby_connections_free)

/* Listens on @address (NULL: every IPv6 and IPv4 address) at @port (0: a
 * free port; later calls with 0 reuse the first one's). */
gboolean nearby_connections_listen (NearbyConnections *self, GInetAddress *address, guint16 port,
                                    GError **error);
/* The certificate (with its private key) that TLS clients get; NULL, the
 * default: plain HTTP only. */
void nearby_connections_set_certificate (NearbyConnections *self, GTlsCertificate *certificate);
guint16 nearby_connections_get_port (NearbyConnections *self);
/* "http://ADDR:PORT/" for each listening socket. */
GStrv nearby_connections_get_uris (NearbyConnections *self);

G_END_DECLS
