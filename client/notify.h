/* git-nearby: telling running servers that a repository's opt-ins changed,
 * and asking the one in this session what it now does with a branch. */
#pragma once

#include <git2.h>
#include <glib.h>

G_BEGIN_DECLS

typedef enum
{
  NEARBY_NOTIFY_ADVERTISED,
  NEARBY_NOTIFY_UNADVERTISED,
} NearbyNotifyChange;

/* Emits org.gitnearby.OptIn1.Changed for @repo on the session bus, then
 * asks the server owning org.gitnearby.Server1 (Explain) what it does with
 * @branch. Returns lines for the user: where the branch is served and
 * whether it is announced, or why it is not served and what would serve
 * it; how to start a server when none runs; NULL when there is nothing to
 * say. */
char *nearby_notify_servers (git_repository *repo, const char *branch, NearbyNotifyChange change);

G_END_DECLS
