/* git-nearby: what the whole LAN advertises, for the page at /nearby.
 *
 * Browsing is not free for the LAN (mDNS queries, a resolver per service,
 * a TCP probe of every server every 2 s), so a server browses only while
 * someone looks: the first request starts a watch (nearby_browse() with
 * watch) in a thread of its own, with a GMainContext of its own, and the
 * watch stops after GIT_NEARBY_LAN_IDLE_MS (default 5 minutes) without a
 * request. While it runs, a mutex-protected table holds what it has seen.
 *
 * The first request is answered once the first browse is complete (the
 * browser's COMPLETE event), or after GIT_NEARBY_LAN_WAIT_MS (default 3 s)
 * with what is there by then; later ones at once. Without avahi-daemon the
 * view says why, and the next request tries again. */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

typedef struct
{
  GPtrArray *services; /* NearbyService (browser.h), by name and host */
  char *error;         /* why the LAN cannot be browsed, or NULL */
  gboolean complete;   /* the first browse was over: nothing is missing for lack of time */
} NearbyLanView;

void nearby_lan_view_free (NearbyLanView *view);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (NearbyLanView, nearby_lan_view_free)

typedef struct _NearbyLanWatch NearbyLanWatch;

/* A watch that is not browsing yet; it lives on the calling thread's
 * default main context. */
NearbyLanWatch *nearby_lan_watch_new (void);

/* Stops browsing (cancels and joins the thread) and frees @watch. */
void nearby_lan_watch_free (NearbyLanWatch *watch);

/* What the LAN advertises, for one request: starts browsing if it is not,
 * counts as a request for the idle timer, and calls back once the view is
 * ready (see above). Never fails. */
void nearby_lan_watch_get_async (NearbyLanWatch *watch, GAsyncReadyCallback callback,
                                 gpointer user_data);
NearbyLanView *nearby_lan_watch_get_finish (NearbyLanWatch *watch, GAsyncResult *result);

G_END_DECLS
