/* git-nearby: finding the branches advertised nearby with Avahi.
 *
 * One service browser for _git-http._tcp; each instance seen on an
 * interface and protocol is resolved, and the copies of one branch on one
 * host (per interface, IPv4 and IPv6) are merged into one NearbyService
 * with the best address: IPv4, then global IPv6, then link-local IPv6 with
 * its zone. Copies with different keys are different services, so that a
 * record copying another's name, host and port never merges into it.
 *
 * A browse ends when Avahi says ALL_FOR_NOW and every resolver has
 * answered (a resolver still silent 0.5 s after ALL_FOR_NOW is a host that
 * left without a goodbye, and is not waited for), or at the timeout —
 * never after a fixed sleep. What it returns has been asked for a TCP
 * connection: a server that does not take one within a second is left out.
 * A resolve for a pinned remote ends as soon as the pinned key's service
 * is resolved and its server shows that key in a TLS handshake. */
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
  char *url;     /* http://... ready for git */
  char *branch;  /* from ref=, without refs/heads/ */
  char *head;    /* commit id, or NULL */
  char *repo;    /* root commit id, or NULL */
  char *key;     /* the server's identity (a pin, TXT key=), or NULL: an old server */
  char *owner;   /* the owner's display name (TXT owner=), or NULL */
  char *subject; /* the head commit's subject (TXT subject=), or NULL */
  gint64 date;   /* the head commit's time (TXT date=), seconds since 1970; 0: not given */
  char *id;      /* the browse's own name for it, the same in all its events (opaque) */
} NearbyService;

/* For g_ptr_array_sort() of NearbyService pointers: by name, host, URL
 * and key. */
int nearby_service_compare (gconstpointer a, gconstpointer b);
NearbyService *nearby_service_copy (const NearbyService *service);
void nearby_service_free (NearbyService *service);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (NearbyService, nearby_service_free)

typedef enum
{
  NEARBY_BROWSE_APPEARED,
  NEARBY_BROWSE_CHANGED,
  NEARBY_BROWSE_VANISHED,
  NEARBY_BROWSE_COMPLETE, /* with no service: see nearby_browse() */
  NEARBY_BROWSE_LOST,     /* with no service: avahi-daemon went away */
} NearbyBrowseEvent;

typedef void (*NearbyBrowseFunc) (NearbyBrowseEvent event, const NearbyService *service,
                                  gpointer user_data);

/* Browses. Without @watch, returns the services found (sorted by name and
 * host) once the browse is complete or @timeout_ms has passed. With @watch,
 * calls @func for every event until @cancellable is cancelled or
 * @timeout_ms (0: no limit) has passed, and returns what is there then:
 * APPEARED once per service, with its best address (held back up to
 * 0.3 s for a better one than link-local), CHANGED when its address or
 * record changes, VANISHED when Avahi says goodbye or its server has not
 * taken a connection twice in a row (asked every 2 s), and COMPLETE
 * once (with @service NULL) when what a browse without @watch would have
 * found has been reported: ALL_FOR_NOW came, the resolvers have answered
 * (or stayed silent for the grace that browse gives them) and no
 * appearance is held back. A daemon that goes away is waited for: LOST
 * (with @service NULL) says so, what was reported stays as it was, unseen
 * by Avahi, and once the daemon is back and has been browsed, what it no
 * longer has vanishes and COMPLETE is said again. */
GPtrArray *nearby_browse (guint timeout_ms, gboolean watch, NearbyBrowseFunc func,
                          gpointer user_data, GCancellable *cancellable, GError **error);

/* As nearby_browse() without @watch, but what is found in @timeout_ms is
 * all that is wanted (shell completion: TAB must not wait for Avahi's
 * ALL_FOR_NOW, a second or so when no other browser runs): running out of
 * time is no warning. */
GPtrArray *nearby_browse_briefly (guint timeout_ms, GError **error);

/* What narrows the choice down besides the name. */
typedef struct
{
  const char *who;          /* nearby://NAME@WHO: a host, owner, short code or key; or NULL */
  const char *pin;          /* the remote's pinned key, or NULL: first contact */
  const char *pinned_owner; /* the owner seen when it was pinned, or NULL */
  const char *remote;       /* the remote's name, for the hint that re-pins; or NULL */
} NearbyPick;

/* Picks the service @name stands for among @services: the exact name, else
 * the one name ending in "/@name".
 *
 * At first contact (no pin), @pick->who, if given, keeps the services
 * whose host, owner or key (nearby_key_matches()) it names. With a pin,
 * only the services whose key is the pin count and @who is ignored: a
 * pinned remote follows its owner's key, never a name or a host.
 *
 * Fails with NEARBY_ERROR_NOT_FOUND (nothing, or the pinned key is not
 * there), NEARBY_ERROR_EXISTS listing the nearby:// choices when several
 * servers match, or NEARBY_ERROR_FAILED when a service has the pinned
 * owner's name and the name but another key: its message is two lines,
 * the refusal and a "hint: " with the command that re-pins. @pick may be
 * NULL. */
const NearbyService *nearby_browse_pick (GPtrArray *services, const char *name,
                                         const NearbyPick *pick, GError **error);

/* Browses and picks (see nearby_browse_pick()): the service NAME stands
 * for. Only the instances whose names may be NAME's are resolved. With a
 * pin it ends at the first service of that key that holds it (see
 * above); otherwise at the end of the browse, so that every candidate is
 * seen. Candidates whose server does not answer are no choice: when only
 * they are left, the error (NEARBY_ERROR_NOT_FOUND) says so; a search that
 * ran out of time fails with NEARBY_ERROR_TIMED_OUT. When
 * one host seems to advertise NAME twice (whatever the keys), asks the
 * server at each port whether it serves NAME, and keeps only those that
 * do: a record naming someone else's host is no reason for the real
 * branch to become unresolvable. */
NearbyService *nearby_resolve (const char *name, const NearbyPick *pick, guint timeout_ms,
                               GError **error);

/* Whether the server at @s's address and port holds @key: a TLS handshake
 * (GIO's, no data sent) whose certificate's key is compared with @key.
 * Only to choose among candidates and to check before pinning; what
 * protects a fetch is curl's own check of the pin. */
gboolean nearby_service_holds_key (const NearbyService *s, const char *key, GError **error);

/* Whether GIO can speak TLS here (glib-networking is installed). Without
 * it nothing is probed: curl's check of the pin still guards every fetch. */
gboolean nearby_can_probe_keys (void);

#define NEARBY_BROWSE_DEFAULT_TIMEOUT_MS 5000

G_END_DECLS
