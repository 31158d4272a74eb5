/* git-nearby: the server on the session bus — the org.gitnearby.Server1
 * object, and the OptIn1.Changed signal from `git nearby advertise`. */
#pragma once

#include <gio/gio.h>

#include "catalog.h"

G_BEGIN_DECLS

typedef struct _NearbyDBusService NearbyDBusService;

/* Connects in the background; without a session bus the server just runs
 * without one (config changes are still noticed by file monitoring). */
/* Its Key and Owner properties are @key (a pin) and @owner ("" for NULL). */
NearbyDBusService *nearby_dbus_service_new (NearbyCatalog *catalog, guint16 port, const char *key,
                                            const char *owner);
void nearby_dbus_service_free (NearbyDBusService *service);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (NearbyDBusService, nearby_dbus_service_free)

G_END_DECLS
