/* git-nearby: the pages people read — this server's branches (HTML and JSON)
 * and one branch with its recent commits. */
#pragma once

#include <glib.h>

#include "catalog.h"

G_BEGIN_DECLS

/* @base_url is "http://host:port" as the client reached us. */
GBytes *nearby_web_index_html (NearbyCatalog *catalog, const char *base_url);
GBytes *nearby_web_index_json (NearbyCatalog *catalog, const char *base_url);
GBytes *nearby_web_branch_html (NearbyBranch *branch, const char *base_url);

G_END_DECLS
