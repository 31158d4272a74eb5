/* git-nearby: finding the branches advertised nearby with Avahi.
 *
 * One service browser for _git-http._tcp; each instance seen on an
 * interface and protocol is resolved, and the copies of one branch on one
 * host (per interface, IPv4 and IPv6) are merged into one NearbyService
 * with the best address: IPv4, then global IPv6, then link-local IPv6 with
 * its zone. A browse ends when Avahi says ALL_FOR_NOW and every resolver
 * has answered — never after a fixed sleep — or at the timeout. */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

typedef struct
{
  char *name;    /* the advertised name */
  char *host;    /* "alice-laptop" (the mDNS host name without ".local") */
  char *address; /* "10.0.0.2", "2001:db8::1", "fe80::1" */
  char *ifname;  /* the interface it was seen on */
  guint16 port;
  char *url;    /* http://... ready for git */
  char *branch; /* from ref=, without refs/heads/ */
  char *head;   /* commit id, or NULL */
  char *repo;   /* root commit id, or NULL */
} NearbyService;

void nearby_service_free (NearbyService *service);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (NearbyService, nearby_service_free)

typedef enum
{
  NEARBY_BROWSE_APPEARED,
  NEARBY_BROWSE_CHANGED,
  NEARBY_BROWSE_VANISHED,
} NearbyBrowseEvent;

typedef void (*NearbyBrowseFunc) (NearbyBrowseEvent event, const NearbyService *service,
                                  gpointer user_data);

/* Browses. Without @watch, returns the services found (sorted by name and
 * host) once the browse is complete or @timeout_ms has passed. With @watch,
 * calls @func for every event until @cancellable is cancelled or
 * @timeout_ms (0: no limit) has passed, and returns what is there then. */
GPtrArray *nearby_browse (guint timeout_ms, gboolean watch, NearbyBrowseFunc func,
                          gpointer user_data, GCancellable *cancellable, GError **error);

/* Picks the service @name (and @host, if not NULL) stands for among
 * @services: the exact name, else the one name ending in "/@name". Fails
 * with NEARBY_ERROR_NOT_FOUND, or NEARBY_ERROR_EXISTS listing the
 * nearby://NAME@HOST choices when several hosts match. */
const NearbyService *nearby_browse_pick (GPtrArray *services, const char *name, const char *host,
                                         GError **error);

/* Browses and picks: the service nearby://NAME[@HOST] stands for. Only
 * the instances whose names may be NAME's are resolved. When one host
 * seems to advertise NAME twice, asks the server at each port whether it
 * serves NAME, and keeps only those that do: a record naming someone
 * else's host is no reason for the real branch to become unresolvable. */
NearbyService *nearby_resolve (const char *name, const char *host, guint timeout_ms,
                               GError **error);

#define NEARBY_BROWSE_DEFAULT_TIMEOUT_MS 5000

G_END_DECLS
