/* git-nearby-serve: serves the advertised branches under some directories.
 * Run as `git nearby serve`. */
#include "config.h"

#include <glib-unix.h>
#include <locale.h>
#include <stdio.h>

#include "catalog.h"
#include "connections.h"
#include "dbus-service.h"
#include "publisher.h"
#include "git-util.h"
#include "http-server.h"
#include "identity.h"
#include "log.h"
#include "nearby-error.h"
#include "scanner.h"

#define DEFAULT_PORT 9419
#define DEFAULT_CACHE_MIB 1024

typedef struct
{
  GMainLoop *loop;
  NearbyCatalog *catalog;
  GStrv previous_names;
} Server;

static gboolean
on_sighup (gpointer user_data)
{
  Server *server = user_data;

  g_message ("SIGHUP: looking for repositories and opt-ins again");
  nearby_catalog_rescan (server->catalog);
  return G_SOURCE_CONTINUE;
}

static gboolean
on_quit (gpointer user_data)
{
  Server *server = user_data;

  g_main_loop_quit (server->loop);
  return G_SOURCE_CONTINUE;
}

/* Says which names appeared and which went away. */
static void
on_catalog_changed (NearbyCatalog *catalog, gpointer user_data)
{
  Server *server = user_data;
  g_autoptr (GPtrArray) branches = nearby_catalog_list (catalog);
  g_autoptr (GStrvBuilder) builder = g_strv_builder_new ();
  GStrv names;

  for (guint i = 0; i < branches->len; i++)
    {
      NearbyBranch *branch = branches->pdata[i];

      g_strv_builder_add (builder, branch->name);
      if (server->previous_names == NULL
          || !g_strv_contains ((const char *const *) server->previous_names, branch->name))
        g_message ("serving '%s' (branch %s of %s)", branch->name, branch->branch,
                   nearby_branch_gitdir (branch));
    }
  names = g_strv_builder_end (builder);
  for (char **p = server->previous_names; p != NULL && *p != NULL; p++)
    if (!g_strv_contains ((const char *const *) names, *p))
      g_message ("no longer serving '%s'", *p);
  g_strfreev (server->previous_names);
  server->previous_names = names;
}

/* This server's key, made on first start, kept under $XDG_CONFIG_HOME. */
static NearbyIdentity *
load_identity (GError **error)
{
  g_autofree char *path = nearby_identity_path ();
  g_autoptr (GError) local_error = NULL;
  NearbyIdentity *identity;

  /* nearby_identity_load() also says so when GLib has no TLS. */
  identity = nearby_identity_load (path, TRUE, &local_error);
  if (identity == NULL)
    g_set_error (error, NEARBY_ERROR, NEARBY_ERROR_FAILED, "the server identity: %s",
                 local_error->message);
  return identity;
}

static gboolean
listen_on (NearbyConnections *connections, char **binds, int port, GError **error)
{
  g_autoptr (GError) local_error = NULL;

  if (binds == NULL)
    {
      if (!nearby_connections_listen (connections, NULL, port, &local_error))
        {
          g_set_error (error, NEARBY_ERROR, NEARBY_ERROR_FAILED, "cannot listen on port %d: %s%s",
                       port, local_error->message,
                       port != 0 ? " (--port 0 picks a free port)" : "");
          return FALSE;
        }
      return TRUE;
    }
  for (char **b = binds; *b != NULL; b++)
    {
      g_autoptr (GInetAddress) address = g_inet_address_new_from_string (*b);

      if (address == NULL)
        {
          g_set_error (error, NEARBY_ERROR, NEARBY_ERROR_INVALID, "--bind %s: not an IP address",
                       *b);
          return FALSE;
        }
      /* With --port 0, every address gets the port the first one got. */
      if (!nearby_connections_listen (connections, address, port, &local_error))
        {
          g_set_error (error, NEARBY_ERROR, NEARBY_ERROR_FAILED, "cannot listen on %s port %d: %s",
                       *b, port, local_error->message);
          return FALSE;
        }
    }
  return TRUE;
}

static gboolean
run (int argc, char **argv, GError **error)
{
  int port = DEFAULT_PORT;
  int max_depth = NEARBY_SCAN_DEFAULT_DEPTH;
  int cache_mib = DEFAULT_CACHE_MIB;
  int max_jobs = (int) g_get_num_processors ();
  NearbyConnectionLimits limits;
  int max_connections;
  g_autofree char *cache_dir = NULL;
  g_autoptr (NearbyPackCache) cache = NULL;
  g_auto (GStrv) binds = NULL;
  g_autofree char *port_file = NULL;
  gboolean no_publish = FALSE;
  gboolean nested = FALSE;
  gboolean verbose = FALSE;
  g_autoptr (GOptionContext) context = NULL;
  g_autoptr (SoupServer) http = NULL;
  g_autoptr (NearbyConnections) connections = NULL;
  g_auto (GStrv) uris = NULL;
  g_autoptr (GMainLoop) loop = NULL;
  g_autoptr (NearbyCatalog) catalog = NULL;
  g_autoptr (NearbyDBusService) dbus = NULL;
  g_autoptr (NearbyPublisher) publisher = NULL;
  g_autoptr (NearbyIdentity) identity = NULL;
  g_autofree char *owner = NULL;
  g_autofree char *short_code = NULL;
  g_auto (GStrv) roots = NULL;
  Server server = { 0 };
  const GOptionEntry entries[]
      = { { "port", 'p', 0, G_OPTION_ARG_INT, &port,
            "Listen on port N (default 9419; 0 picks a free port)", "N" },
          { "bind", 0, 0, G_OPTION_ARG_STRING_ARRAY, &binds,
            "Listen on ADDR only (repeatable; default: every address)", "ADDR" },
          { "port-file", 0, 0, G_OPTION_ARG_FILENAME, &port_file,
            "Write the port listened on to FILE", "FILE" },
          { "no-publish", 0, 0, G_OPTION_ARG_NONE, &no_publish,
            "Serve without announcing the branches on the LAN", NULL },
          { "max-depth", 0, 0, G_OPTION_ARG_INT, &max_depth,
            "Look for repositories at most N directories down (default 3)", "N" },
          { "nested", 0, 0, G_OPTION_ARG_NONE, &nested,
            "Also look for repositories inside repositories' working trees", NULL },
          { "cache-size", 0, 0, G_OPTION_ARG_INT, &cache_mib,
            "Keep up to MIB mebibytes of packs for repeated requests (default 1024; 0: none)",
            "MIB" },
          { "max-jobs", 0, 0, G_OPTION_ARG_INT, &max_jobs,
            "Run at most N pack-objects at once (default: the number of cores)", "N" },
          { "max-connections", 0, 0, G_OPTION_ARG_INT, &max_connections,
            "Keep at most N connections open (default 512; 32 per client address)", "N" },
          { "verbose", 'v', 0, G_OPTION_ARG_NONE, &verbose, "Log every request", NULL },
          { NULL } };

  nearby_connection_limits_init (&limits);
  limits.max_request_bytes = NEARBY_MAX_REQUEST_BYTES;
  max_connections = (int) limits.max_connections;
  g_set_prgname ("git nearby serve");
  context = g_option_context_new ("[DIR...]");
  g_option_context_set_summary (
      context, "Serve the advertised branches of the repositories under each DIR\n"
               "(default: the current directory), read-only, over git's smart HTTP.");
  g_option_context_add_main_entries (context, entries, NULL);
  if (!g_option_context_parse (context, &argc, &argv, error))
    return FALSE;
  if (port < 0 || port > 65535)
    {
      g_set_error (error, NEARBY_ERROR, NEARBY_ERROR_INVALID, "--port %d: not a port number", port);
      return FALSE;
    }
  if (max_connections < 1)
    {
      g_set_error_literal (error, NEARBY_ERROR, NEARBY_ERROR_INVALID,
                           "--max-connections takes 1 or more");
      return FALSE;
    }
  limits.max_connections = max_connections;
  if (cache_mib < 0 || max_jobs < 1)
    {
      g_set_error_literal (error, NEARBY_ERROR, NEARBY_ERROR_INVALID,
                           "--cache-size takes 0 or more, --max-jobs 1 or more");
      return FALSE;
    }
  if (max_depth < 0)
    {
      g_set_error_literal (error, NEARBY_ERROR, NEARBY_ERROR_INVALID,
                           "--max-depth cannot be negative");
      return FALSE;
    }
  nearby_log_init ("git nearby serve", verbose);
  nearby_git_init ();

  /* Before serving anything: a server that cannot prove who it is would
   * serve nearby:// remotes nothing they can pin. */
  if ((identity = load_identity (error)) == NULL)
    return FALSE;
  owner = nearby_owner_name ();
  short_code = nearby_key_short_code (identity->key);
  g_message ("identity %s (%s), owner %s", short_code, identity->key,
             owner != NULL ? owner : "not set (git config --global nearby.owner NAME)");
  g_debug ("identity file %s", identity->path);

  if (argc > 1)
    roots = g_strdupv (argv + 1);
  else
    {
      roots = g_new0 (char *, 2);
      roots[0] = g_get_current_dir ();
    }

  /* Listen first: a busy port or a bad address fails before any scanning. */
  catalog = nearby_catalog_new ((const char *const *) roots, max_depth, nested);
  server.catalog = catalog;
  cache_dir = g_build_filename (g_get_user_cache_dir (), "git-nearby", "packs", NULL);
  cache = nearby_pack_cache_new (cache_dir, (guint64) cache_mib << 20, max_jobs);
  http = nearby_http_server_new (catalog, cache, identity->key, owner);
  connections = nearby_connections_new (http, &limits);
  nearby_connections_set_certificate (connections, identity->certificate);
  if (!listen_on (connections, binds, port, error))
    return FALSE;

  g_signal_connect (catalog, "changed", G_CALLBACK (on_catalog_changed), &server);
  nearby_catalog_rescan (catalog);
  if (nearby_catalog_n_repositories (catalog) == 0)
    g_warning ("no git repository found under %s; serving nothing until SIGHUP", roots[0]);
  else if (server.previous_names == NULL || server.previous_names[0] == NULL)
    g_message ("no branch is advertised yet; run 'git nearby advertise' in a repository");

  if (port_file != NULL)
    {
      g_autofree char *text = g_strdup_printf ("%u\n", nearby_connections_get_port (connections));

      if (!g_file_set_contents (port_file, text, -1, error))
        return FALSE;
    }
  uris = nearby_connections_get_uris (connections);
  for (char **u = uris; *u != NULL; u++)
    g_message ("listening on %s (and HTTPS, on the same port)", *u);
  if (!no_publish)
    publisher = nearby_publisher_new (catalog, nearby_connections_get_port (connections),
                                      identity->key, owner);

  dbus = nearby_dbus_service_new (catalog, nearby_connections_get_port (connections), identity->key,
                                  owner);
  loop = g_main_loop_new (NULL, FALSE);
  server.loop = loop;
  g_unix_signal_add (SIGHUP, on_sighup, &server);
  g_unix_signal_add (SIGINT, on_quit, &server);
  g_unix_signal_add (SIGTERM, on_quit, &server);
  g_main_loop_run (loop);

  /* Goodbyes before the catalog goes. */
  g_clear_pointer (&publisher, nearby_publisher_free);
  g_message ("stopped");
  g_strfreev (server.previous_names);
  return TRUE;
}

int
main (int argc, char **argv)
{
  g_autoptr (GError) error = NULL;

  setlocale (LC_ALL, "");
  nearby_log_init ("git nearby serve", FALSE);
  if (!run (argc, argv, &error))
    {
      fprintf (stderr, "git nearby serve: %s\n", error->message);
      return 1;
    }
  return 0;
}
