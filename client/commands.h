/* git-nearby: the subcommands the dispatcher knows. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Each takes its own argv (argv[0] is "git nearby <command>") and returns
 * FALSE with @error set on failure; main() prints it and sets the status. */
gboolean nearby_cmd_advertise (int argc, char **argv, GError **error);
gboolean nearby_cmd_unadvertise (int argc, char **argv, GError **error);
gboolean nearby_cmd_status (int argc, char **argv, GError **error);
gboolean nearby_cmd_serve (int argc, char **argv, GError **error);
gboolean nearby_cmd_browse (int argc, char **argv, GError **error);
gboolean nearby_cmd_resolve (int argc, char **argv, GError **error);
gboolean nearby_cmd_id (int argc, char **argv, GError **error);
gboolean nearby_cmd_fetch (int argc, char **argv, GError **error);

/* Parses @argv with @context; "--help" prints and exits 0, as with git. */
gboolean nearby_cmd_parse (GOptionContext *context, int *argc, char ***argv, GError **error);

G_END_DECLS
