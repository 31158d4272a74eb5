/* git-nearby: telling running servers that a repository's opt-ins changed. */
#pragma once

#include <git2.h>
#include <glib.h>

G_BEGIN_DECLS

/* Emits org.gitnearby.OptIn1.Changed for @repo on the session bus. Returns a
 * line for the user when no server can have heard it, or NULL. */
char *nearby_notify_servers (git_repository *repo);

G_END_DECLS
