/* git-nearby: the HTTP routes — smart HTTP for each advertised branch, the
 * pages, and clean refusals for everything else. */
#pragma once

#include <libsoup/soup.h>

#include "catalog.h"
#include "pack-cache.h"

G_BEGIN_DECLS

#define NEARBY_MAX_REQUEST_BYTES (32 * 1024 * 1024)

/* Packs are made through @cache, which must outlive the server. The pages
 * show @key (the server's pin) and @owner (NULL: none). Without @browse
 * (--no-publish: no Avahi at all), /nearby says that it does not browse. */
SoupServer *nearby_http_server_new (NearbyCatalog *catalog, NearbyPackCache *cache, const char *key,
                                    const char *owner, gboolean browse);

G_END_DECLS
