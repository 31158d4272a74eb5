/* git-nearby: the page at /nearby, what the whole LAN advertises, grouped
 * by project (the root commit), for someone without the command line to
 * look at and copy a clone line from.
 *
 * Everything on it came from the network: each string is made valid UTF-8
 * and escaped, and the only links are the http:// URLs built here from a
 * service's resolved address and port and its name's own path. */
#pragma once

#include <glib.h>

#include "lan-watch.h"

G_BEGIN_DECLS

/* @own_key is this server's key: its own branches are marked. The JSON is
 * {"browsing": bool, "error": string or null, "complete": bool,
 *  "projects": [{"project", "repo", "branches": [{"name", "host", "owner",
 *  "key", "code", "branch", "head", "subject", "date", "url", "page",
 *  "clone", "self"}]}]}, the group of branches with no root commit (none
 * announced) last, its "project" and "repo" null. */
GBytes *nearby_lan_page_html (const NearbyLanView *view, const char *own_key);
GBytes *nearby_lan_page_json (const NearbyLanView *view, const char *own_key);

G_END_DECLS
