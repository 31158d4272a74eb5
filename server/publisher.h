/* git-nearby: announcing the advertised branches on the LAN with Avahi —
 * one entry group per branch (at most 900, the first by name: Avahi's
 * per-client limit), service _git-http._tcp, instance
 * "<name> on <host>", TXT schema v1 (with key, owner and subject) kept
 * current as tips move. */
#pragma once

#include <glib.h>

#include "catalog.h"

G_BEGIN_DECLS

typedef struct _NearbyPublisher NearbyPublisher;

/* Starts publishing what @catalog serves on @port, now and as it changes,
 * each record with the server's @key (a pin), @owner (NULL: none) and the
 * head commit's subject. Without avahi-daemon it says so once and
 * publishes when one appears. */
NearbyPublisher *nearby_publisher_new (NearbyCatalog *catalog, guint16 port, const char *key,
                                       const char *owner);

/* Why the branch served as @name is not announced now: NULL when it is
 * (or is being registered), "no-avahi-daemon", "cap" (past the first
 * MAX_ANNOUNCED by name) or "unreadable" (its tip could not be read). */
const char *nearby_publisher_why_not_announced (NearbyPublisher *publisher, const char *name);

/* Withdraws every service (goodbye packets) and disconnects. */
void nearby_publisher_free (NearbyPublisher *publisher);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (NearbyPublisher, nearby_publisher_free)

G_END_DECLS
