/* git-nearby: the command dispatcher (`git nearby <command> ...`). */
#include "config.h"

#include <locale.h>
#include <stdio.h>
#include <string.h>

#include "commands.h"
#include "git-util.h"
#include "log.h"
#include "nearby-error.h"
#include "untrusted.h"

typedef struct
{
  const char *name;
  const char *summary;
  gboolean (*run) (int argc, char **argv, GError **error);
} NearbyCommand;

static const NearbyCommand commands[] = {
  { "serve", "Serve this directory's advertised branches on the LAN", nearby_cmd_serve },
  { "advertise", "Share a branch of this repository", nearby_cmd_advertise },
  { "unadvertise", "Stop sharing a branch", nearby_cmd_unadvertise },
  { "status", "List this repository's advertised branches", nearby_cmd_status },
  { "browse", "List the branches advertised nearby", nearby_cmd_browse },
  { "resolve", "Print the URL of a branch advertised nearby", nearby_cmd_resolve },
  { "fetch", "Fetch everyone's branches of this project", nearby_cmd_fetch },
  { "id", "Show this server's key, owner and clone lines", nearby_cmd_id },
};

static void
print_usage (FILE *out)
{
  fprintf (out, "usage: git nearby <command> [<options>]\n\nCommands:\n");
  for (gsize i = 0; i < G_N_ELEMENTS (commands); i++)
    fprintf (out, "  %-13s %s\n", commands[i].name, commands[i].summary);
  fprintf (out, "\nRun 'git nearby <command> --help' for a command's options;\n"
                "'git help nearby' for the manual.\n");
}

gboolean
nearby_cmd_parse (GOptionContext *context, int *argc, char ***argv, GError **error)
{
  /* GOptionContext exits 0 itself after printing --help. */
  return g_option_context_parse (context, argc, argv, error);
}

static const NearbyCommand *
find_command (const char *name)
{
  for (gsize i = 0; i < G_N_ELEMENTS (commands); i++)
    if (strcmp (commands[i].name, name) == 0)
      return &commands[i];
  return NULL;
}

static const char *
closest_command (const char *name)
{
  const char *best = NULL;
  guint best_distance = G_MAXUINT;

  for (gsize i = 0; i < G_N_ELEMENTS (commands); i++)
    {
      const char *c = commands[i].name;
      gsize n = strlen (name), m = strlen (c);
      g_autofree guint *row = g_new (guint, m + 1);
      guint distance;

      /* Levenshtein distance, one row at a time. */
      for (gsize j = 0; j <= m; j++)
        row[j] = j;
      for (gsize k = 1; k <= n; k++)
        {
          guint diag = row[0];

          row[0] = k;
          for (gsize j = 1; j <= m; j++)
            {
              guint up = row[j];

              row[j] = MIN (MIN (row[j] + 1, row[j - 1] + 1), diag + (name[k - 1] != c[j - 1]));
              diag = up;
            }
        }
      distance = row[m];
      if (distance < best_distance)
        {
          best_distance = distance;
          best = c;
        }
    }
  return best_distance <= 3 ? best : NULL;
}

int
main (int argc, char **argv)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *prgname = NULL;
  const NearbyCommand *command;

  setlocale (LC_ALL, "");
  nearby_log_init ("git-nearby", g_getenv ("GIT_NEARBY_DEBUG") != NULL);
  nearby_git_init ();

  if (argc < 2)
    {
      print_usage (stderr);
      return 1;
    }
  if (strcmp (argv[1], "-h") == 0 || strcmp (argv[1], "--help") == 0
      || strcmp (argv[1], "help") == 0)
    {
      print_usage (stdout);
      return 0;
    }
  if (strcmp (argv[1], "--version") == 0)
    {
      printf ("git-nearby %s\n", PACKAGE_VERSION);
      return 0;
    }

  command = find_command (argv[1]);
  if (command == NULL)
    {
      const char *guess = closest_command (argv[1]);
      g_autofree char *shown = nearby_untrusted_escape (argv[1]);

      if (guess != NULL)
        fprintf (stderr, "git nearby: '%s' is not a command. Did you mean '%s'?\n", shown, guess);
      else
        fprintf (stderr, "git nearby: '%s' is not a command. See 'git nearby --help'.\n", shown);
      return 1;
    }

  prgname = g_strdup_printf ("git nearby %s", command->name);
  g_set_prgname (prgname);
  argv[1] = prgname;
  if (!command->run (argc - 1, argv + 1, &error))
    {
      nearby_untrusted_print_message (stderr, "git nearby: ", error->message);
      return g_error_matches (error, NEARBY_ERROR, NEARBY_ERROR_NOT_FOUND) ? 2 : 1;
    }
  return 0;
}
