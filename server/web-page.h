/* git-nearby: the pages people read — this server's branches (HTML and JSON)
 * and one branch with its recent commits. */
#pragma once

#include <glib.h>

#include "catalog.h"
#include "reach.h"

G_BEGIN_DECLS

/* Who serves: the server's key (a pin, identity.h) and its owner's display
 * name (NULL: none). */
typedef struct
{
  const char *key;
  const char *owner;
} NearbyWebIdentity;

/* @base_url is "http://host:port" as the client reached us. The pages show
 * the owner, the key's short code and pin, and for each branch the
 * nearby:// clone line that pins this key. The JSON is
 * {"key": pin, "owner": name or null, "branches": [...]}. */
GBytes *nearby_web_index_html (NearbyCatalog *catalog, const NearbyWebIdentity *who,
                               const char *base_url);
GBytes *nearby_web_index_json (NearbyCatalog *catalog, const NearbyWebIdentity *who,
                               const char *base_url);
GBytes *nearby_web_branch_html (NearbyBranch *branch, const NearbyWebIdentity *who,
                                const char *base_url);
/* The same as JSON: {"name", "branch", "url", "clone" (the nearby:// line),
 * "key", "owner", "head", "commits": [{"id", "subject", "author", "time"}]},
 * commits as git log lists them. NULL if the branch is gone. */
GBytes *nearby_web_branch_json (NearbyBranch *branch, const NearbyWebIdentity *who,
                                const char *base_url);

/* /NAME/commit/ID: one commit's message and patch (against its first
 * parent, cut at 256 KiB), HTML or JSON. Made in a worker thread
 * (nearby_branch_work_async()); its data is a NearbyWebCommitRequest. */
typedef struct
{
  char *name; /* the advertised name */
  char *id;   /* as the path gave it */
  char *key;
  char *owner;
  char *base_url;
  gboolean json;
} NearbyWebCommitRequest;

void nearby_web_commit_request_free (NearbyWebCommitRequest *request);

/* The page; NULL with no error when ID is not a commit reachable from the
 * tip, whatever it is instead: the same 404 for all, as for packs. */
GBytes *nearby_web_commit_page (git_repository *git, NearbyReach *reach, const git_oid *tip,
                                gpointer data, GError **error);

/* What the other pages (lan-page.c) share with these. */

/* @text for HTML: valid UTF-8 (a branch name, a user.name, a Host header
 * or anything from the LAN need not be; invalid bytes become U+FFFD),
 * then markup-escaped (quotes too: fit for an attribute). */
char *nearby_web_html_text (const char *text);

/* "3 hours ago" for a time in seconds since 1970. */
char *nearby_web_age (gint64 then);

/* The path of @name's page: nearby_name_to_path (@name), with a trailing
 * '/' for the one name whose path is also the page of the LAN (/nearby),
 * so that a branch advertised as "nearby" keeps a page. */
char *nearby_web_page_path (const char *name);

/* The head of a page titled @title, with the style sheet, and its end. */
void nearby_web_page_start (GString *out, const char *title);
GBytes *nearby_web_page_end (GString *out);

G_END_DECLS
