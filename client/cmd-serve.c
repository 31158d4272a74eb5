/* git-nearby: `git nearby serve` runs the server, git-nearby-serve. */
#include "config.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "commands.h"
#include "nearby-error.h"

/* In a build tree the server sits in ../server next to us; installed, in our
 * libexec directory, which is found relative to us first so that a staged
 * (DESTDIR) or moved installation works too. */
static char *
find_server (void)
{
  g_autofree char *self = g_file_read_link ("/proc/self/exe", NULL);

  if (self != NULL)
    {
      g_autofree char *dir = g_path_get_dirname (self);
      const char *candidates[] = { "../server", NEARBY_LIBEXECDIR_FROM_BINDIR };

      for (gsize i = 0; i < G_N_ELEMENTS (candidates); i++)
        {
          g_autofree char *path = g_build_filename (dir, candidates[i], "git-nearby-serve", NULL);

          if (g_file_test (path, G_FILE_TEST_IS_EXECUTABLE))
            return g_steal_pointer (&path);
        }
    }
  return g_build_filename (NEARBY_LIBEXECDIR, "git-nearby-serve", NULL);
}

gboolean
nearby_cmd_serve (int argc, char **argv, GError **error)
{
  g_autofree char *server = find_server ();
  g_autoptr (GPtrArray) args = g_ptr_array_new ();

  g_ptr_array_add (args, server);
  for (int i = 1; i < argc; i++)
    g_ptr_array_add (args, argv[i]);
  g_ptr_array_add (args, NULL);

  /* exec, so that signals, the exit status and the terminal are the server's */
  execv (server, (char **) args->pdata);
  g_set_error (error, NEARBY_ERROR, NEARBY_ERROR_FAILED, "cannot run %s: %s", server,
               g_strerror (errno));
  return FALSE;
}
