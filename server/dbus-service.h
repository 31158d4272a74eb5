/* git-nearby: the server on the session bus — the org.gitnearby.Server1
 * object and its well-known name, and the OptIn1.Changed signal from
 * `git nearby advertise`. */
#pragma once

#include <gio/gio.h>

#include "catalog.h"
#include "publisher.h"

G_BEGIN_DECLS

typedef struct _NearbyDBusService NearbyDBusService;

/* Connects now, exports the object (Owner @owner or "", Directories
 * @directories, Publishing @publishing) and asks for the name,
 * before the server binds anything. A @publishing server fails with
 * NEARBY_ERROR_EXISTS, naming the running one (pid, port, directories),
 * when another server already announces in this session; a server that
 * does not publish runs beside it. Without a session bus there is nothing
 * to check: the server runs without one (config changes are still noticed
 * by file monitoring). */
NearbyDBusService *nearby_dbus_service_new (NearbyCatalog *catalog, const char *const *directories,
                                            gboolean publishing, const char *owner, GError **error);
/* Once bound: the Port and Key (a pin) properties, and where the URLs
 * Explain gives start ("http://alice.local:9419/"). */
void nearby_dbus_service_set_listening (NearbyDBusService *service, guint16 port,
                                        const char *base_url, const char *key);
/* The publisher Explain asks whether a branch is announced; NULL before
 * it goes. */
void nearby_dbus_service_set_publisher (NearbyDBusService *service, NearbyPublisher *publisher);
void nearby_dbus_service_free (NearbyDBusService *service);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (NearbyDBusService, nearby_dbus_service_free)

G_END_DECLS
