/* git-remote-nearby: the nearby:// remote helper.
 *
 * git runs `git-remote-nearby <remote> nearby://NAME[@HOST]` for clone,
 * fetch, pull, ls-remote and friends. We resolve the name now, at the moment
 * of use, and hand over to git's own HTTP transport (git remote-http) with
 * the URL found, so progress, errors and options are exactly git's. */
#include "config.h"

#include <errno.h>
#include <locale.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "browser.h"
#include "log.h"
#include "untrusted.h"
#include "url.h"

static guint
timeout_ms (void)
{
  const char *env = g_getenv ("GIT_NEARBY_TIMEOUT");
  double seconds = env != NULL ? g_ascii_strtod (env, NULL) : 0;

  return seconds > 0 && seconds <= 3600 ? (guint) (seconds * 1000)
                                        : NEARBY_BROWSE_DEFAULT_TIMEOUT_MS;
}

int
main (int argc, char **argv)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (NearbyService) service = NULL;
  g_autofree char *name = NULL;
  g_autofree char *host = NULL;

  setlocale (LC_ALL, "");
  nearby_log_init ("git-remote-nearby", g_getenv ("GIT_NEARBY_DEBUG") != NULL);
  if (argc != 3)
    {
      fprintf (stderr, "usage: git-remote-nearby <remote> nearby://NAME[@HOST]\n"
                       "(git runs this for nearby:// URLs; see git-remote-nearby(1))\n");
      return 128;
    }

  if (!nearby_url_parse_nearby (argv[2], &name, &host, &error)
      || (service = nearby_resolve (name, host, timeout_ms (), &error)) == NULL)
    {
      /* The message may quote what another host advertised. */
      g_autofree char *shown = nearby_untrusted_escape (error->message);

      fprintf (stderr, "fatal: %s\n", shown);
      return 128;
    }
  {
    g_autofree char *shown = nearby_untrusted_escape (service->url);

    g_debug ("%s is %s", argv[2], shown);
  }

  {
    char *args[] = { "git", "remote-http", argv[1], service->url, NULL };

    execvp ("git", args);
    fprintf (stderr, "fatal: cannot run git remote-http: %s\n", g_strerror (errno));
  }
  return 128;
}
