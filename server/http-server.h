/* git-nearby: the HTTP routes — smart HTTP for each advertised branch, the
 * pages, and clean refusals for everything else. */
#pragma once

#include <libsoup/soup.h>

#include "catalog.h"

G_BEGIN_DECLS

#define NEARBY_MAX_REQUEST_BYTES (32 * 1024 * 1024)

SoupServer *nearby_http_server_new (NearbyCatalog *catalog);

G_END_DECLS
